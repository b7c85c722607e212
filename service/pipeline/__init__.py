"""The extraction stages, in the order data flows through them.

    chunk  -> split the article into windows one model call can take
    call   -> ask the model for an ExtractionDraft of one window
    ground -> find each evidence quote in the article: character spans
    merge  -> join the windows' drafts into records with stable ids and links

Each stage is a module with one narrow entry point; `service.extractor` runs them in order.
"""

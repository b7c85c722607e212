"""The extraction stages, in the order data flows through them.

    chunk     -> split the article into windows one model call can take
    call      -> ask the model for an ExtractionDraft of one window
    ground    -> find each evidence quote in the article: character spans
    injection -> find passages of the article that read like instructions to a model
    merge     -> join the windows' drafts into one list with stable ids and links, flagging
                 (or dropping) records that stand on suspected injections alone
    normalize -> drafts into API records: canonical actors, date windows, money values

Each stage is a module with one narrow entry point; `attache.extractor` runs them in order.
"""

from attache.cli import main

main()

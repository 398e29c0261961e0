from nas.cli import main

main()

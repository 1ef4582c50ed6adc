from netimmutable.cli import main

main()

from naturalthoughts.cli import main

main()

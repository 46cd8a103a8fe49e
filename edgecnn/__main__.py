from edgecnn.cli import main

main()

from samplerr.cli import main

main()

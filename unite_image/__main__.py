from unite_image.cli import entry

entry()

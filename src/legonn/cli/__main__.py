from legonn.cli import run

run()

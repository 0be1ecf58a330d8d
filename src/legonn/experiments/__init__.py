"""What the recipes, benchmarks and the results page share: training and scoring a system, the records they
write under results/ (`records`), where each record came from (`provenance`), the bricks the recipes export
(`exports`), and filling a page's tables between markers (`markers`).

Recipes and benchmarks are scripts (`python recipes/asr/run.py`); they import these modules like any other
part of the library, so none of them has to reach into another's folder.
"""

"""Demo material: the document corpus (``demo.corpus``) and the demo municipal websites."""

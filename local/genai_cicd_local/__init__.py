"""What runs on your machine, never in Lambda: the `genai-cicd` CLI, the local release runner and the
embedded AWS (moto plus the simulated services moto lacks).

Installed with the project (`pip install -e ".[local]"` adds moto); no layer ships it: the layers are
built from shared/ (shared/Makefile copies genai_cicd only), and tests/unit/test_layer_contents.py
checks that nothing deployed imports this package.
"""

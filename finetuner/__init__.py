"""finetuner: fine-tune Hugging Face transformer models from a browser studio, a CLI or Python.

Importing the package is cheap: torch and transformers load only when a model is used.
"""

__version__ = "0.1.0"

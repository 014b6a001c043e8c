"""The inference side of emodet: frame -> faces -> aligned crops -> emotions.

Modules so far:

- :mod:`emodet.inference.model_files`: a checksum-verified cache for downloaded detector model files.
- :mod:`emodet.inference.detectors`: the face-detector registry (``mtcnn``, ``yunet``, ``blazeface``).
- :mod:`emodet.inference.align`: eye-levelled square face crops for the classifier.
"""

"""Dataset sources (FER2013, FER+, class folders), their splits, and batching for Keras."""

from emodet.data.images import LabelledImages
from emodet.data.naming import parse_source, split_name
from emodet.data.sources import load_split, load_splits

__all__ = ["LabelledImages", "load_split", "load_splits", "parse_source", "split_name"]

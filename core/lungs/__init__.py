"""Lungs in radiographs: a U-Net trained on real adult films with human-drawn masks and on radiographs simulated from
chest CTs, with left and right lungs told apart (model.py: the network and its checkpoints; data.py: the training
and scoring pairs; train.py: the run; segment.py: masks of uploads at their own size)."""

"""A callback that interrupts training as Ctrl-C would, shared by the resume tests."""

import keras


class StopAfter(keras.callbacks.Callback):
    """Raises KeyboardInterrupt once ``epochs`` epochs have been checkpointed."""

    def __init__(self, epochs):
        super().__init__()
        self.epochs = epochs

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epochs:
            raise KeyboardInterrupt

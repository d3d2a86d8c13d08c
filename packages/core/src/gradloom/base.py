"""Errors raised by gradloom.

Every error a user can trigger is a ``GradloomError`` subclass whose message says what is
wrong and what to call or change. ``MXNetError`` is kept as an alias so scripts that catch
``mx.base.MXNetError`` keep working.
"""


class GradloomError(Exception):
    """Base class of every error gradloom raises on purpose."""


MXNetError = GradloomError


class PluginError(GradloomError):
    """A plugin registered something invalid (duplicate name, bad object)."""


class BackendUnavailableError(GradloomError):
    """A device type has no usable backend (package missing, no driver, no device)."""


class UnknownNameError(GradloomError, KeyError, ValueError):
    """A name (operator, optimizer, metric, kvstore, initializer...) is not registered.

    Both a ``KeyError`` (a registry lookup) and a ``ValueError``, which is what MXNet raised
    for unknown optimizer, initializer and metric names, so ``except ValueError`` still
    catches it."""

    def __str__(self):  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class UnknownOperatorError(UnknownNameError):
    """A symbol file or call names an operator gradloom does not provide."""


class ShapeError(GradloomError, ValueError):
    """Shapes are inconsistent or cannot be inferred."""


class DTypeError(GradloomError, TypeError):
    """Types are inconsistent or unsupported."""


class AttributeValueError(GradloomError, ValueError):
    """An operator attribute is missing or has an invalid value."""


class StateError(GradloomError, RuntimeError):
    """A method was called in the wrong state (e.g. ``forward`` before ``bind``)."""


class ParameterError(GradloomError, ValueError):
    """Parameters are missing, extra, or do not match the model."""


class FormatError(GradloomError, ValueError):
    """A file is truncated, corrupted, or not in the expected format."""


class ConfigError(GradloomError, ValueError):
    """A configuration value (CLI, config file, constructor) is invalid."""


class UnsupportedError(GradloomError, NotImplementedError):
    """The call exists for compatibility but this object cannot do it (says what can)."""


class DistributedError(GradloomError, RuntimeError):
    """Ranks disagree or a collective failed."""



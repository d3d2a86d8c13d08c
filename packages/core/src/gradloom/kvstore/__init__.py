"""Key-value stores: ``gradloom.kv.create(name)``."""
from .base import Capability, KVStore

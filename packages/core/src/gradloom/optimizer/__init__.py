"""Optimizers (``gradloom.optimizer``, also ``gradloom.opt``): MXNet's names and rules.

``create('sgd', learning_rate=0.1, momentum=0.9)`` builds one by (case-insensitive) name;
``@register`` adds a new one. Built in: sgd (ccsgd), nag, signum, adam, adamw, adamax,
nadam, rmsprop, adagrad, adadelta, ftrl, ftml, dcasgd, sgld and test (MXNet's kvstore test
rule).
"""
from .optimizer import Optimizer, create, create_optimizer, register
from .sgd import NAG, SGD, SGLD, Signum, Test, ccSGD
from .adam import Adam, Adamax, AdamW, Nadam
from .adaptive import AdaDelta, AdaGrad, RMSProp
from .ftrl import FTRL, Ftrl
from .ftml import FTML
from .dcasgd import DCASGD
from .updater import Updater, get_updater

__all__ = ["Optimizer", "create", "create_optimizer", "register", "SGD", "ccSGD", "NAG",
           "Signum", "SGLD", "Test", "Adam", "AdamW", "Adamax", "Nadam", "RMSProp", "AdaGrad",
           "AdaDelta", "Ftrl", "FTRL", "FTML", "DCASGD", "Updater", "get_updater"]

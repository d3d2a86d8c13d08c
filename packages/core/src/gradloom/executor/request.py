"""What a backend receives to build an executor (``Backend.make_executor(request)``)."""
import dataclasses
from typing import Any, Optional


@dataclasses.dataclass
class BindRequest:
    """A symbol plus the arrays to bind it to (raw backend arrays, used in place).

    ``args``/``aux_states`` follow ``symbol.list_arguments()`` /
    ``list_auxiliary_states()``; ``args_grad[i]`` is ``None`` where ``grad_req[i]`` is
    ``'null'``. ``*_ndarrays`` optionally hold the caller's NDArray wrappers of those arrays so
    the executor hands back the very same objects.
    """

    symbol: Any
    ctx: Any
    device_id: int
    args: list
    args_grad: list
    aux_states: list
    grad_req: list
    shared_exec: Optional[Any] = None
    group2ctx: Optional[dict] = None
    arg_ndarrays: Optional[list] = None
    grad_ndarrays: Optional[list] = None
    aux_ndarrays: Optional[list] = None

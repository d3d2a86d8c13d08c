"""FullyConnected with its 2-D views made once per bound array, not per call.

Core's ``FullyConnectedKernel`` is already one GEMM per product; what costs on small
networks is Python work per call (reshapes, attribute lookups) and the fresh arrays its
'add' paths create. The views are cached per input/output array (the executor passes the
same arrays every step); non-contiguous inputs, whose reshape is a copy, are reshaped per
call as in the generic kernel.
"""
import numpy as np

from gradloom.ops.dense import FullyConnectedKernel

from ._blas import MIN_MACS, matmul


class CpuFullyConnectedKernel(FullyConnectedKernel):
    def setup(self):
        super().setup()
        self._fwd_key = self._bwd_key = None
        dtype = self.dtypes["in"][0]
        scratch = self.backend.scratch
        self.dw_scratch = scratch(self.device_id, (self.attrs.num_hidden, self.cols), dtype,
                                  "fc_dw")
        self.db_scratch = scratch(self.device_id, (self.attrs.num_hidden,), dtype, "fc_db") \
            if self.has_bias else None
        self.dx_scratch = None
        # products this large run on BLAS's threads (see ``gradloom_cpu.executor``)
        self.threaded_blas = self.rows * self.cols * self.attrs.num_hidden >= MIN_MACS

    def forget_arrays(self):
        self._fwd_key = self._bwd_key = None

    def forward(self, is_train, inputs, outputs, aux):
        x, y = inputs[0], outputs[0]
        key = self._fwd_key
        if key is None or key[0] is not x or key[1] is not y:
            flat = x.flags.c_contiguous and y.flags.c_contiguous
            key = self._fwd_key = (x, y, flat and x.reshape(self.x2), flat and y.reshape(self.y2))
        y2 = key[3]
        if y2 is False:
            return super().forward(is_train, inputs, outputs, aux)
        matmul(key[2], inputs[1].T, y2)
        if self.has_bias:
            np.add(y2, inputs[2], out=y2)

    def backward(self, out_grads, inputs, outputs, aux, in_grads, req):
        g, x, dx = out_grads[0], inputs[0], in_grads[0]
        key = self._bwd_key
        if key is None or key[0] is not g or key[1] is not x or key[2] is not dx:
            flat = g.flags.c_contiguous and x.flags.c_contiguous and (
                dx is None or dx.flags.c_contiguous)
            key = self._bwd_key = (g, x, dx, flat, flat and g.reshape(self.y2),
                                   flat and x.reshape(self.x2),
                                   flat and dx is not None and dx.reshape(self.x2))
        if not key[3]:
            return super().backward(out_grads, inputs, outputs, aux, in_grads, req)
        g2, x2 = key[4], key[5]
        r = req[0]
        if dx is not None and r != "null":
            if r == "write":
                matmul(g2, inputs[1], key[6])
            else:
                if self.dx_scratch is None:
                    self.dx_scratch = self.backend.scratch(self.device_id, self.x2, dx.dtype,
                                                           "fc_dx")
                matmul(g2, inputs[1], self.dx_scratch)
                np.add(key[6], self.dx_scratch, out=key[6])
        dw = in_grads[1]
        if dw is not None and req[1] != "null":
            if req[1] == "write":
                matmul(g2.T, x2, dw)
            else:
                matmul(g2.T, x2, self.dw_scratch)
                np.add(dw, self.dw_scratch, out=dw)
        if self.has_bias:
            db = in_grads[2]
            if db is not None and req[2] != "null":
                if req[2] == "write":
                    np.add.reduce(g2, axis=0, out=db)
                else:
                    np.add.reduce(g2, axis=0, out=self.db_scratch)
                    np.add(db, self.db_scratch, out=db)

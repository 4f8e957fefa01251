"""scikit-learn estimators trained by chainrule: ``MLPClassifier`` and ``MLPRegressor``.

    from chainrule.sklearn import MLPClassifier
    clf = MLPClassifier(hidden_layer_sizes=(64,), random_state=0).fit(X, y)

They take scikit-learn's parameters with its defaults, set its fitted attributes, pass its
estimator checks and work in ``Pipeline`` and ``GridSearchCV``; the network, the loss, the
gradients and the updates are chainrule's. Needs scikit-learn:
``pip install "chainrule[sklearn]"``.

Where they match scikit-learn's own MLPs:
    - the same initial weights for the same ``random_state`` (Glorot uniform, drawn in the
      same order), the same shuffles and the same early-stopping split;
    - the same updates: 'adam' and 'sgd' (momentum, Nesterov, the 'invscaling' and 'adaptive'
      schedules) take scikit-learn's steps, not PyTorch's (see
      :mod:`chainrule.sklearn.optimizers`), so in float64 ``loss_curve_`` and ``coefs_``
      agree with scikit-learn's to rounding;
    - the same loss, L2 penalty α/(2·Σ sample_weight in the batch)·Σ‖W‖², stopping rule
      (tol, n_iter_no_change) and ConvergenceWarning; precision follows the input's
      (float32 arrays train in float32, anything else in float64).

Where they differ:
    - ``predict_log_proba`` is computed from the logits, so it stays finite where
      ``predict_proba`` underflows to 0 (scikit-learn returns log(predict_proba), −inf there);
    - 'lbfgs' minimises the exact loss, whose gradient it is given; scikit-learn hands L-BFGS
      its reported loss (log-loss of clipped probabilities, squared error averaged over the
      outputs) with the gradient of the exact one. ``loss_`` is reported as scikit-learn's;
    - negative sample weights are refused, and a batch whose weights are all zero is skipped
      (scikit-learn divides by their zero sum);
    - bad parameters raise :class:`InvalidParameterError` (a ValueError and a TypeError, as
      scikit-learn's is) with chainrule's wording; the tags declare multi-output support
      (multilabel classification, several regression targets), which both have;
    - one more parameter, ``device`` ('cpu' or 'cuda'), as skorch's: ``device="cuda"`` trains
      and predicts on an NVIDIA GPU through CuPy, with X, y and the fitted attributes on the
      host as NumPy arrays.
"""

import re

from chainrule.optional import require

_sklearn = require("sklearn", "chainrule.sklearn")
# validate_data and __sklearn_tags__, which the estimators rely on, arrived in 1.6.
_version = re.match(r"(\d+)\.(\d+)", _sklearn.__version__)
if _version is None or tuple(map(int, _version.groups())) < (1, 6):
    raise ImportError(
        f"chainrule.sklearn needs scikit-learn >= 1.6, found {_sklearn.__version__}: "
        'pip install -U "chainrule[sklearn]"'
    )

from chainrule.sklearn.classifier import MLPClassifier  # noqa: E402
from chainrule.sklearn.parameters import InvalidParameterError  # noqa: E402
from chainrule.sklearn.regressor import MLPRegressor  # noqa: E402

__all__ = ["InvalidParameterError", "MLPClassifier", "MLPRegressor"]

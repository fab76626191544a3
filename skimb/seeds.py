"""Seeds for the fit's random streams.

Every stream a fit opens (a sampler's generator, the scaling sample, the folds of a
bag, a member's ``random_state``) takes its seed from one of two sources, so that
one ``random_state`` fixes them all:

* :func:`torch_seed` draws from torch's global RNG, which ``random_state`` seeds
  inside the fit (as torch's own ``RandomSampler`` draws its seed);
* :func:`derived_seed` derives independent seeds from integers with NumPy's
  ``SeedSequence``, for streams that must not depend on what torch drew before.
"""

import numpy as np
import torch


def torch_seed():
    """A seed drawn from torch's global RNG.

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> a = torch_seed()
    >>> _ = torch.manual_seed(0)
    >>> a == torch_seed()
    True
    """
    return int(torch.randint(0, 2**62, ()).item())


def derived_seed(*entropy):
    """A 32-bit seed derived from the integers ``entropy`` (``SeedSequence``); a
    fresh one from the operating system's entropy when any of them is ``None``.

    Examples
    --------
    >>> derived_seed(5) == derived_seed(5), derived_seed(5, 0) == derived_seed(5, 1)
    (True, False)
    """
    fixed = not any(value is None for value in entropy)
    sequence = np.random.SeedSequence(list(entropy) if fixed else None)
    return int(sequence.generate_state(1)[0])

//! `amt-cooldown`: the per-device power-operation gate. (Being written for issue 2.)

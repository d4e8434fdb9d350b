//! `amt-power`: Intel AMT power operations and states. (Being written for issue 2.)

//! `amt-manager`: Power-manage Intel AMT workstations: inventory, credential vault, power operations with cooldown, bulk runs. Built by its issue; not yet implemented.

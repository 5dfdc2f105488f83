#!/usr/bin/env python3
"""Samples the GPU's power (NVML, what nvidia-smi reads) every 50 ms until killed: CSV of
epoch_ms, power_mW, energy_mJ (the driver's energy counter where the GPU has one, else -1)."""
import sys
import time

import pynvml

pynvml.nvmlInit()
h = pynvml.nvmlDeviceGetHandleByIndex(0)
out = open(sys.argv[1], "w", buffering=1)
while True:
    try:
        e = pynvml.nvmlDeviceGetTotalEnergyConsumption(h)
    except pynvml.NVMLError:
        e = -1
    out.write(f"{time.time() * 1000:.1f},{pynvml.nvmlDeviceGetPowerUsage(h)},{e}\n")
    time.sleep(0.05)

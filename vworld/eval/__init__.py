"""Evaluation: the goal-reaching planning harness (costs, MPC loop, reports).

Import the pieces from their modules (``vworld.eval.harness.run_planning``,
``vworld.eval.mpc.LatentController``...); this package file stays light so that other evaluation
modules (probes, collapse metrics) do not pull in MuJoCo.
"""

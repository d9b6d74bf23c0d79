#!/usr/bin/env bash
# A ringsim sweep as a Slurm job array: 8 tasks, each runs one shard of the same sweep
# (Slurm sets SLURM_ARRAY_TASK_ID to 0..7, and SLURM_ARRAY_TASK_MIN to 0), and writes its
# sweep.json under results/; `ringsim sweep merge` joins them afterwards.
#
#   sbatch docs/sweep/slurm-array.sh
#   ringsim sweep merge -out out/sweep results/shard-*       # once every task is done
#
# ringsim must be on PATH on the compute nodes. --array's count must equal -shards.
#SBATCH --job-name=ringsim-sweep
#SBATCH --array=0-7
#SBATCH --cpus-per-task=1
#SBATCH --mem=2G
#SBATCH --time=04:00:00
#SBATCH --output=results/slurm-%A_%a.out
set -euo pipefail

ringsim sweep \
	-axis pacing=0,64,128,256 \
	-axis ber=0,1e-7,1e-6 \
	-seeds 1..8 \
	-shards 8 \
	-out "results/shard-${SLURM_ARRAY_TASK_ID}" \
	-- -bytes 256KiB

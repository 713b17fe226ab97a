# /// script
# requires-python = ">=3.11"
# dependencies = [
#   "livn",
#   "datasets",
# ]
# ///
# Seed 001's dataset example. The seed loads the published dataset from the Hugging Face Hub
# (load_dataset("livn-org/livn", name=system_name)); livn downloads nothing, so this loads the
# same kind of dataset sampled locally first (a few seconds):
#   livn systems sample system=S1 duration=1000 samples=4 output_directory=./s1_dataset --launch --merge
from datasets import load_dataset

from livn.io import MEA
from livn.system import make

system_name = "S1"

dataset = load_dataset("./s1_dataset", name=system_name)

sample = dataset["train_with_noise"][0]
it = sample["trial_it"][0]
t = sample["trial_t"][0]

# use a multi-electrode array to 'observe' the data
system = make(system_name)
mea = MEA.from_directory(system.uri)

cit, ct = mea.channel_recording(system.neuron_coordinates, it, t)

print("Spikes in channel 0:")
print(ct[0])

"""Average the weights of several fine-tunes of one parent (a model soup) into a new model file; the card of the
first, marked; run train_robust.py --recalibrate on the result afterwards."""
import sys
from pathlib import Path
from sleepscope.model.checkpoint import load_model, save_model
from sleepscope.model.weight_average import average_weights

out = Path(sys.argv[1])
paths = [Path(p) for p in sys.argv[2:]]
model, card = load_model(paths[0])
soup = model.state_dict()
for k, p in enumerate(paths[1:], start=1):
    other = load_model(p)[0]
    soup = average_weights(soup, other, 1.0 / (k + 1))
model.load_state_dict(soup)
card.metrics = {**card.metrics, "soup_of": [load_model(p)[1].version for p in paths]}
print(save_model(model, out, card).version)

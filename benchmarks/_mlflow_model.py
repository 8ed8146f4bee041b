"""Turn an xgboost ``model.ubj`` into an MLflow model directory. Runs inside the MLflow venv.

bench_serve.py trains one XGBClassifier, saves it as a conveyor bundle and as ``model.ubj``
(xgboost's own format, readable across versions), then runs this script with the MLflow venv's
python so that ``mlflow models serve`` serves the very same booster:

    mlflow-venv/bin/python _mlflow_model.py model.ubj sample.json OUT_DIR

``sample.json`` holds ``{"columns": [...], "data": [[...], ...]}``: a few training rows, used
for the model signature (column names and types). The script prints the MLflow version and the
class labels the loaded pyfunc model predicts for those rows, as one JSON line.

Only the standard library, numpy, pandas, xgboost and mlflow are imported: nothing of conveyor,
which is not installed in that venv.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main() -> int:
    import mlflow
    import mlflow.pyfunc
    import mlflow.xgboost
    import pandas as pd
    import xgboost
    from mlflow.models import infer_signature

    booster_file, sample_file, out_dir = (Path(a) for a in sys.argv[1:4])
    sample = json.loads(sample_file.read_text(encoding="utf-8"))
    frame = pd.DataFrame(sample["data"], columns=sample["columns"], dtype="float64")
    model = xgboost.XGBClassifier()
    model.load_model(booster_file)
    signature = infer_signature(frame, model.predict(frame))
    mlflow.xgboost.save_model(model, str(out_dir), signature=signature, model_format="ubj")
    labels = mlflow.pyfunc.load_model(str(out_dir)).predict(frame)
    print(json.dumps({"mlflow": mlflow.__version__, "predictions": [int(x) for x in labels]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Train one YOLO run as the run spec describes, evaluate it and export it to ONNX.

The run agent (/app/agent.js, the image's entrypoint) starts this with the environment that
docs/node-runtime.md describes; the code is in the trainer package beside this file.
"""

import sys

from trainer.run import main

if __name__ == "__main__":
    sys.exit(main())

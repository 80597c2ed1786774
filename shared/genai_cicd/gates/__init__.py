"""Pre-deploy GenAI gates: run cases, score outputs, decide with statistics."""

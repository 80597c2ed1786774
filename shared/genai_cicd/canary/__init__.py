"""The canary: anytime-valid evidence (sequential), the decision (decision), its planner (planning), and
``genai-cicd canary judge`` (replay of a recorded stream)."""

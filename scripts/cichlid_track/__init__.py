"""cichlid-track: the tested library behind the workflow's rule scripts.

Modules here that the Snakefile imports at parse time (naming, samples, settings)
import only the standard library and PyYAML; heavy modules (torch, deeplabcut,
cv2) are imported inside the functions that need them.
"""

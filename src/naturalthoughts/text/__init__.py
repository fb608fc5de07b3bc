"""Text tools several stages need, in one neutral place: the thinking block (:mod:`.think`), token counting
(:mod:`.tokens`), answer grading (:mod:`.grading`) and the think / no-think mode strings shared by training and
evaluation (:mod:`.modes`). Nothing here imports a stage."""

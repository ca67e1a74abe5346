"""The REST API of compliance: cases and their evidence, compliance proposals and their signatures, the register."""

"""Typical bond lengths (pm) and allowed valences of the EDM protocol (Hoogeboom et al. 2022, `qm9/bond_analyze.py`
of e3_diffusion_for_molecules; lengths from wiredchemist.com). Single bonds `SINGLE`, double `DOUBLE`, triple `TRIPLE`;
a pair within length + margin (pm) is bonded with the highest order it reaches. The margins were tuned by EDM so that
QM9 itself scores 99.0 % stable atoms."""

MARGINS_PM = (10, 5, 3)  # single, double, triple

SINGLE = {
    "H": {"H": 74, "C": 109, "N": 101, "O": 96, "F": 92, "B": 119, "Si": 148, "P": 144, "As": 152, "S": 134,
          "Cl": 127, "Br": 141, "I": 161},
    "C": {"C": 154, "N": 147, "O": 143, "F": 135, "Si": 185, "P": 184, "S": 182, "Cl": 177, "Br": 194, "I": 214},
    "N": {"N": 145, "O": 140, "F": 136, "Cl": 175, "Br": 214, "S": 168, "I": 222, "P": 177},
    "O": {"O": 148, "F": 142, "Br": 172, "S": 151, "P": 163, "Si": 163, "Cl": 164, "I": 194},
    "F": {"F": 142, "S": 158, "Si": 160, "Cl": 166, "Br": 178, "P": 156, "I": 187},
    "B": {"Cl": 175},
    "Si": {"Si": 233, "S": 200, "Cl": 202, "Br": 215, "I": 243},
    "Cl": {"Cl": 199, "P": 203, "S": 207, "Br": 214},
    "S": {"S": 204, "Br": 225, "P": 210, "I": 234},
    "Br": {"Br": 228, "P": 222},
    "P": {"P": 221},
    "I": {"I": 266},
}  # symmetric: each pair listed once
DOUBLE = {"C": {"C": 134, "N": 129, "O": 120, "S": 160}, "N": {"N": 125, "O": 121}, "O": {"O": 121, "P": 150},
          "P": {"S": 186}}
TRIPLE = {"C": {"C": 120, "N": 116, "O": 113}, "N": {"N": 110}}

ALLOWED_VALENCE = {"H": [1], "C": [4], "N": [3], "O": [2], "F": [1], "B": [3], "Al": [3], "Si": [4], "P": [3, 5],
                   "S": [4], "Cl": [1], "As": [3], "Br": [1], "I": [1], "Hg": [1, 2], "Bi": [3, 5]}

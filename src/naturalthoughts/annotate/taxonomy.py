"""The closed label set for domain and field annotation.

The 13 top-level domains are SuperGPQA's (Du et al. 2025), the taxonomy NaturalThoughts uses. The
fields beneath them are written for this project (SuperGPQA's own 72 fields are not available
offline); each has a one-line description that the zero-shot classifier embeds and the LLM prompt shows.
"""

from __future__ import annotations

DOMAINS: tuple[str, ...] = (
    "Engineering",
    "Philosophy",
    "Medicine",
    "Economics",
    "Science",
    "Law",
    "History",
    "Education",
    "Management",
    "Literature and Arts",
    "Agronomy",
    "Sociology",
    "Military Science",
)

# domain -> {field: description}. Descriptions are written to separate the fields for an embedder.
FIELDS: dict[str, dict[str, str]] = {
    "Engineering": {
        "Computer Science and Software": "algorithms, programming, data structures, software systems, networks",
        "Electrical and Electronic Engineering": "circuits, signals, power systems, electronics, control",
        "Mechanical Engineering": "mechanics of machines, thermodynamics, fluid flow, materials, design",
        "Civil and Structural Engineering": "structures, buildings, bridges, geotechnics, transportation",
        "Chemical Engineering": "chemical processes, reactors, separation, process design",
        "Materials Engineering": "metals, polymers, ceramics, material properties and processing",
        "Aerospace Engineering": "aircraft, spacecraft, propulsion, aerodynamics, orbital mechanics",
    },
    "Philosophy": {
        "Logic": "formal logic, validity, arguments, paradoxes",
        "Ethics": "moral philosophy, right and wrong, duties, consequences, virtue",
        "Metaphysics and Epistemology": "existence, mind, knowledge, belief, justification",
        "History of Philosophy": "philosophers and schools of thought through history",
        "Religious Studies": "religions, theology, sacred texts, belief systems",
    },
    "Medicine": {
        "Clinical Medicine": "diagnosis, treatment, diseases, patients, symptoms",
        "Basic Medical Sciences": "anatomy, physiology, pathology, immunology",
        "Pharmacy and Pharmacology": "drugs, dosage, pharmacokinetics, side effects",
        "Public Health": "epidemiology, prevention, population health, vaccination",
        "Nursing and Rehabilitation": "patient care, nursing practice, therapy, recovery",
        "Dentistry": "teeth, oral health, dental procedures",
    },
    "Economics": {
        "Microeconomics": "supply and demand, markets, prices, firms, consumers, elasticity",
        "Macroeconomics": "inflation, GDP, unemployment, monetary and fiscal policy",
        "Finance": "investment, interest rates, stocks, bonds, risk, valuation",
        "Econometrics and Statistics": "regression, economic data, estimation, forecasting",
        "International Trade": "exports, imports, exchange rates, tariffs, trade policy",
    },
    "Science": {
        "Mathematics": "algebra, calculus, geometry, number theory, probability, proofs, equations",
        "Physics": "forces, motion, energy, electromagnetism, quantum mechanics, relativity",
        "Chemistry": "reactions, molecules, compounds, stoichiometry, chemical bonds",
        "Biology": "cells, genetics, evolution, organisms, ecology, molecular biology",
        "Astronomy": "stars, planets, galaxies, cosmology, telescopes",
        "Earth and Environmental Science": "geology, climate, atmosphere, oceans, environment",
        "Statistics": "probability distributions, hypothesis tests, sampling, data analysis",
    },
    "Law": {
        "Constitutional and Administrative Law": "constitutions, government powers, rights, public law",
        "Civil Law": "contracts, torts, property, obligations, civil disputes",
        "Criminal Law": "crimes, offences, criminal procedure, punishment",
        "International Law": "treaties, states, international organisations, human rights law",
        "Commercial and Corporate Law": "companies, commercial transactions, securities, competition law",
    },
    "History": {
        "Ancient History": "ancient civilisations, empires, antiquity",
        "Medieval and Early Modern History": "middle ages, renaissance, early modern states",
        "Modern History": "nineteenth and twentieth century events, wars, revolutions",
        "Historiography and Archaeology": "historical methods, sources, archaeological evidence",
    },
    "Education": {
        "Pedagogy and Teaching": "teaching methods, curriculum, classroom instruction",
        "Educational Psychology": "how students learn, motivation, development, assessment",
        "Physical Education and Sports Science": "sport, exercise, training, physical fitness",
        "Educational Policy and Administration": "schools, education systems, policy, administration",
    },
    "Management": {
        "Business Administration": "strategy, organisations, entrepreneurship, business decisions",
        "Accounting": "financial statements, bookkeeping, auditing, costs",
        "Marketing": "customers, branding, advertising, market research",
        "Operations and Supply Chain": "production, logistics, inventory, operations research",
        "Public Administration": "government management, public policy, public services",
        "Information Management": "information systems, library science, data management",
    },
    "Literature and Arts": {
        "Literature": "novels, poetry, literary works, authors, literary analysis",
        "Linguistics and Language": "grammar, languages, semantics, phonetics, translation",
        "Music": "music theory, composers, instruments, harmony",
        "Visual Arts and Design": "painting, sculpture, architecture as art, design",
        "Film, Theatre and Media": "cinema, drama, journalism, communication media",
    },
    "Agronomy": {
        "Crop Science": "crops, plant breeding, soil, fertilisers, farming",
        "Animal Husbandry and Veterinary Science": "livestock, animal health, veterinary medicine",
        "Forestry": "forests, trees, timber, forest ecology",
        "Aquaculture and Fisheries": "fish farming, fisheries management",
        "Food Science": "food processing, nutrition, food safety",
    },
    "Sociology": {
        "Social Theory": "society, social structure, institutions, classical sociology",
        "Demography": "population, migration, birth and death rates",
        "Anthropology": "cultures, ethnography, human societies",
        "Psychology": "behaviour, cognition, emotion, mental processes",
        "Political Science": "politics, elections, governments, political systems",
    },
    "Military Science": {
        "Military Strategy and Tactics": "war strategy, battles, tactics, operations",
        "Military Technology and Weapons": "weapons, ballistics, military equipment, defence systems",
        "Military History": "historical wars, campaigns, commanders",
        "Military Logistics and Command": "command, logistics, military organisation",
    },
}

assert tuple(FIELDS) == DOMAINS, "every domain has fields, in the same order"


def fields_of(domain: str) -> tuple[str, ...]:
    return tuple(FIELDS.get(domain, ()))


def domain_of_field(field: str) -> str | None:
    for domain, fields in FIELDS.items():
        if field in fields:
            return domain
    return None


def describe_for_prompt() -> str:
    """The taxonomy as indented text for the LLM classifier's prompt."""
    lines = []
    for domain, fields in FIELDS.items():
        lines.append(f"- {domain}: " + "; ".join(fields))
    return "\n".join(lines)

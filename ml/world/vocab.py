"""The synthetic world's own tables (countries and their shares, prices, names, words).

The contract's vocabularies (genres, devices, hour buckets, kinds, plans, events, actions) live in
`ml/vocabulary.py` and are re-exported here for the generator's modules.
"""

from __future__ import annotations

from typing import Final

from ml.vocabulary import (  # noqa: F401  (re-exported for the generator)
    ACTION_CHANNEL,
    AGE_BANDS,
    DEVICES,
    GENRE_INDEX,
    GENRE_NAMES,
    GENRE_SLUGS,
    GENRES,
    HOUR_BUCKETS,
    KINDS,
    MOVIE_RATINGS,
    NUDGE_ACTIONS,
    OPT_OUT_CHANNELS,
    PLANS,
    SERIES_RATINGS,
    SUBSCRIPTION_EVENTS,
    hour_bucket,
)

# Monthly list price per plan (one global price list; a plan change changes the price).
PLAN_PRICES: Final[dict[str, float]] = {"basic": 7.99, "standard": 15.49, "premium": 22.99}

# Countries with a FIXED UTC offset (no daylight saving) so a local hour is always well defined:
# (code, offset as landed, offset in minutes, language of local productions, share of users).
COUNTRIES: Final[tuple[tuple[str, str, int, str, float], ...]] = (
    ("US", "-05:00", -300, "en", 0.38),
    ("BR", "-03:00", -180, "pt", 0.12),
    ("MX", "-06:00", -360, "es", 0.07),
    ("GB", "+00:00", 0, "en", 0.10),
    ("DE", "+01:00", 60, "de", 0.08),
    ("IN", "+05:30", 330, "hi", 0.11),
    ("JP", "+09:00", 540, "ja", 0.07),
    ("AU", "+10:00", 600, "en", 0.07),
)
COUNTRY_CODES: Final[tuple[str, ...]] = tuple(c[0] for c in COUNTRIES)

# Production countries of titles (code, language, share of the catalog). Anime is always JP.
PRODUCTION_COUNTRIES: Final[tuple[tuple[str, str, float], ...]] = (
    ("US", "en", 0.46),
    ("GB", "en", 0.12),
    ("FR", "fr", 0.06),
    ("DE", "de", 0.05),
    ("ES", "es", 0.05),
    ("KR", "ko", 0.07),
    ("JP", "ja", 0.05),
    ("IN", "hi", 0.07),
    ("BR", "pt", 0.04),
    ("MX", "es", 0.03),
)

# Title tone: drives synopsis wording and a latent-factor direction, so text similarity and
# collaborative signal agree on it.
TONES: Final[tuple[str, ...]] = (
    "dark",
    "lighthearted",
    "heartfelt",
    "tense",
    "whimsical",
    "epic",
    "cerebral",
)

FIRST_NAMES: Final[tuple[str, ...]] = (
    "Ada", "Alan", "Amara", "Anders", "Aiko", "Beatriz", "Bruno", "Camila", "Chen", "Clara",
    "Dario", "Deepa", "Diego", "Elena", "Emil", "Farah", "Felix", "Greta", "Hana", "Hugo",
    "Imani", "Ines", "Ivan", "Jonas", "Julia", "Kai", "Kenji", "Lara", "Leon", "Lina", "Lucas",
    "Maya", "Mateo", "Mei", "Mira", "Nadia", "Nico", "Noah", "Olga", "Omar", "Paula", "Priya",
    "Rafael", "Rhea", "Rosa", "Ruben", "Sana", "Sofia", "Tariq", "Theo", "Uma", "Vera", "Victor",
    "Wen", "Yara", "Yusuf", "Zoe", "Arjun", "Keiko", "Marta",
)  # fmt: skip
LAST_NAMES: Final[tuple[str, ...]] = (
    "Abbott", "Alvarez", "Andersen", "Bauer", "Bianchi", "Castro", "Chowdhury", "Costa", "Dubois",
    "Eriksen", "Fischer", "Fujita", "Garcia", "Gupta", "Hansen", "Herrera", "Ito", "Jensen",
    "Kaur", "Kim", "Kowalski", "Larsen", "Lopez", "Marin", "Mehta", "Moreau", "Mori", "Nakamura",
    "Novak", "Oliveira", "Okafor", "Park", "Patel", "Perez", "Quinn", "Rossi", "Sato", "Schmidt",
    "Silva", "Singh", "Sousa", "Suzuki", "Tanaka", "Torres", "Vargas", "Wagner", "Weber", "Wong",
    "Yamada", "Zhang", "Reyes", "Hale", "Brandt", "Lindqvist", "Mendes", "Osei", "Petrov",
    "Rahman", "Ueda", "Varga",
)  # fmt: skip

# Title words per genre: titles read like their genre ("The Last Heist", "Starfall Protocol").
TITLE_WORDS: Final[dict[str, tuple[tuple[str, ...], tuple[str, ...]]]] = {
    # slug: (adjectives / first words, nouns / second words)
    "action": (
        ("Iron", "Rogue", "Final", "Steel", "Burning", "Rapid"),
        ("Strike", "Protocol", "Fury", "Run", "Vendetta", "Front"),
    ),
    "comedy": (
        ("Happy", "Awkward", "Lucky", "Crazy", "Little", "Fancy"),
        ("Neighbors", "Roommates", "Wedding", "Weekend", "Mix-Up", "Office"),
    ),
    "drama": (
        ("Quiet", "Broken", "Distant", "Open", "Silent", "Long"),
        ("Harbor", "Season", "Letters", "River", "Promise", "House"),
    ),
    "crime": (
        ("Dirty", "Cold", "Blind", "Hidden", "Crooked", "Red"),
        ("Case", "Heist", "Alibi", "Precinct", "Ledger", "Dealer"),
    ),
    "thriller": (
        ("Dead", "Black", "Fatal", "Sleepless", "Vanishing", "Double"),
        ("Signal", "Trace", "Witness", "Hour", "Pursuit", "Cover"),
    ),
    "horror": (
        ("Hollow", "Cursed", "Pale", "Rotting", "Whispering", "Blood"),
        ("Woods", "Cellar", "Ritual", "Manor", "Night", "Doll"),
    ),
    "romance": (
        ("Sweet", "Summer", "Endless", "Tender", "Paris", "First"),
        ("Kiss", "Affair", "Hearts", "Romance", "Vows", "Crush"),
    ),
    "sci_fi": (
        ("Quantum", "Stellar", "Orbital", "Neon", "Void", "Starfall"),
        ("Colony", "Drift", "Horizon", "Machine", "Signal", "Station"),
    ),
    "fantasy": (
        ("Dragon", "Enchanted", "Shadow", "Crystal", "Elder", "Moonlit"),
        ("Kingdom", "Crown", "Realm", "Sword", "Spell", "Throne"),
    ),
    "documentary": (
        ("Inside", "Planet", "Hidden", "Secret", "Deep", "Wild"),
        ("Oceans", "History", "Lives", "Science", "Empire", "Earth"),
    ),
    "animation": (
        ("Tiny", "Brave", "Jolly", "Fluffy", "Super", "Magic"),
        ("Friends", "Adventure", "Critters", "Island", "Pals", "Robot"),
    ),
    "family": (
        ("Big", "Home", "Sunny", "Holiday", "Backyard", "Little"),
        ("Family", "Puppy", "Camp", "Summer", "Treehouse", "Christmas"),
    ),
    "reality": (
        ("Ultimate", "Real", "Love", "Top", "Island", "Extreme"),
        ("Challenge", "Makeover", "Match", "Kitchen", "Villa", "Showdown"),
    ),
    "anime": (
        ("Spirit", "Blade", "Sky", "Phantom", "Mecha", "Sakura"),
        ("Academy", "Hunter", "Chronicles", "Saga", "Legend", "Pilot"),
    ),
}

# Synopsis vocabulary per genre: (protagonists, plots, settings). Distinct words per genre make
# TF-IDF similarity of synopses track genre.
GENRE_TEXT: Final[dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]]] = {
    "action": (
        ("an ex-commando", "a rogue agent", "a getaway driver", "a mercenary"),
        (
            "fights through an army of hired guns",
            "races to stop a bomb",
            "leads a daring rescue mission",
            "battles a ruthless warlord",
        ),
        (
            "a collapsing skyscraper",
            "a hijacked train",
            "a war-torn border town",
            "a military compound",
        ),
    ),
    "comedy": (
        (
            "a clumsy office manager",
            "two mismatched roommates",
            "a failed stand-up comic",
            "an overconfident best man",
        ),
        (
            "bluffs through a hilarious misunderstanding",
            "tries to fake a perfect life",
            "plans a disastrous party",
            "swaps jobs for a chaotic week",
        ),
        (
            "a cramped city apartment",
            "a suburban cul-de-sac",
            "a chaotic wedding",
            "a struggling pizza shop",
        ),
    ),
    "drama": (
        ("a grieving widow", "an estranged son", "a struggling single mother", "an aging pianist"),
        (
            "confronts a painful family secret",
            "rebuilds a life after loss",
            "searches for forgiveness",
            "faces a life-changing choice",
        ),
        (
            "a fading coastal town",
            "a crowded hospital ward",
            "the family farm",
            "a working-class neighborhood",
        ),
    ),
    "crime": (
        ("a veteran detective", "a corrupt cop", "a mob accountant", "a public defender"),
        (
            "unravels a murder investigation",
            "infiltrates a drug cartel",
            "chases a serial killer",
            "plans one last robbery",
        ),
        (
            "the city's criminal underworld",
            "a gritty precinct",
            "a smuggling port",
            "a casino racket",
        ),
    ),
    "thriller": (
        (
            "a paranoid journalist",
            "a hunted witness",
            "a desperate hostage negotiator",
            "an insomniac analyst",
        ),
        (
            "uncovers a deadly conspiracy",
            "is stalked by a faceless enemy",
            "must survive one sleepless night",
            "races a ticking clock",
        ),
        (
            "a locked-down embassy",
            "a remote mountain lodge",
            "a surveillance state",
            "a rain-soaked metropolis",
        ),
    ),
    "horror": (
        ("a terrified babysitter", "a group of campers", "a skeptical priest", "a young family"),
        (
            "awakens an ancient curse",
            "is haunted by a vengeful ghost",
            "is hunted by a monstrous creature",
            "performs a forbidden ritual",
        ),
        ("an abandoned asylum", "a haunted farmhouse", "a fog-bound cemetery", "a cursed forest"),
    ),
    "romance": (
        (
            "a hopeless romantic",
            "a jaded wedding planner",
            "two former lovers",
            "a small-town florist",
        ),
        (
            "falls unexpectedly in love",
            "rekindles a summer romance",
            "is torn between two suitors",
            "writes love letters to a stranger",
        ),
        ("a seaside village", "a Paris bookshop", "a vineyard in bloom", "a snowy ski resort"),
    ),
    "sci_fi": (
        (
            "a starship engineer",
            "a rogue android",
            "a time-traveling physicist",
            "an astronaut crew",
        ),
        (
            "discovers an alien signal",
            "fights a rogue artificial intelligence",
            "travels through a wormhole",
            "colonizes a distant planet",
        ),
        (
            "a derelict space station",
            "a terraformed Mars colony",
            "a dystopian megacity",
            "the edge of the galaxy",
        ),
    ),
    "fantasy": (
        (
            "an orphaned sorceress",
            "a reluctant knight",
            "an exiled elf prince",
            "a young dragon rider",
        ),
        (
            "embarks on a quest for a lost crown",
            "wields forbidden magic",
            "battles a dark lord",
            "breaks an ancient prophecy",
        ),
        ("an enchanted kingdom", "a realm of dragons", "a cursed castle", "a mythical forest"),
    ),
    "documentary": (
        (
            "scientists and historians",
            "a team of marine biologists",
            "archival footage and experts",
            "wildlife filmmakers",
        ),
        (
            "investigate the true story of",
            "explore the science behind",
            "document the rise and fall of",
            "reveal the hidden history of",
        ),
        ("the deep oceans", "an ancient empire", "climate change", "the human brain"),
    ),
    "animation": (
        (
            "a brave little robot",
            "a talking fox",
            "a band of cartoon critters",
            "a curious penguin",
        ),
        (
            "sets off on a colorful adventure",
            "learns the value of friendship",
            "saves a magical island",
            "builds an amazing invention",
        ),
        (
            "a candy-colored world",
            "a toy workshop",
            "a floating island",
            "a jungle of giant flowers",
        ),
    ),
    "family": (
        (
            "a loving family",
            "two siblings and their puppy",
            "a kind grandfather",
            "a group of kids",
        ),
        (
            "spends an unforgettable summer together",
            "saves the town holiday festival",
            "rescues a lost pet",
            "builds a treehouse together",
        ),
        ("a sunny summer camp", "a cozy countryside home", "a snowy holiday village", "a backyard"),
    ),
    "reality": (
        ("ambitious contestants", "rival home chefs", "single islanders", "amateur designers"),
        (
            "compete in elimination challenges",
            "battle for a cash prize",
            "search for love on camera",
            "face the judges each week",
        ),
        ("a luxury villa", "a competition kitchen", "a tropical island", "a makeover studio"),
    ),
    "anime": (
        (
            "a teenage mecha pilot",
            "a demon-hunting swordsman",
            "a shy academy student",
            "a spirit summoner",
        ),
        (
            "awakens a hidden power",
            "trains to become the strongest hunter",
            "battles giant mechs",
            "protects the spirit world",
        ),
        ("a neo-Tokyo academy", "a spirit realm", "a shattered sky kingdom", "a ninja village"),
    ),
}

# Tone wording: an opening adjective set and a closing sentence per tone.
TONE_TEXT: Final[dict[str, tuple[tuple[str, ...], tuple[str, ...]]]] = {
    "dark": (
        ("grim", "bleak", "brooding"),
        ("Nobody walks away unscarred.", "Darkness closes in from every side."),
    ),
    "lighthearted": (
        ("breezy", "feel-good", "playful"),
        ("Laughs are guaranteed.", "It is pure fun from start to finish."),
    ),
    "heartfelt": (
        ("moving", "tender", "poignant"),
        ("Bring tissues.", "A story about love, loss and hope."),
    ),
    "tense": (("gripping", "nail-biting", "taut"), ("Every second counts.", "Trust no one.")),
    "whimsical": (
        ("quirky", "charming", "offbeat"),
        ("Expect the delightfully unexpected.", "Wonder waits around every corner."),
    ),
    "epic": (
        ("sweeping", "spectacular", "grand"),
        ("The fate of everything hangs in the balance.", "Legends are born."),
    ),
    "cerebral": (
        ("thought-provoking", "intricate", "mind-bending"),
        ("Nothing is what it seems.", "Questions linger long after the end."),
    ),
}

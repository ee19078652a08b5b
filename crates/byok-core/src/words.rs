//! The PGP word list (Juola and Zimmermann, 1995), for reading digests aloud.
//!
//! Byte `i` of a digest is spoken with the even-position list when `i` is even
//! and the odd-position list when `i` is odd: two-syllable and three-syllable
//! words alternate, so a swapped, dropped or repeated word is heard at once.
//! IANA's DNSSEC key ceremonies read digests this way.
//!
//! Written here because no maintained crate carries the list; it is data, checked
//! by the test vector from the list's own documentation.

const EVEN: [&str; 256] = [
    "aardvark",
    "absurd",
    "accrue",
    "acme",
    "adrift",
    "adult",
    "afflict",
    "ahead",
    "aimless",
    "Algol",
    "allow",
    "alone",
    "ammo",
    "ancient",
    "apple",
    "artist",
    "assume",
    "Athens",
    "atlas",
    "Aztec",
    "baboon",
    "backfield",
    "backward",
    "banjo",
    "beaming",
    "bedlamp",
    "beehive",
    "beeswax",
    "befriend",
    "Belfast",
    "berserk",
    "billiard",
    "bison",
    "blackjack",
    "blockade",
    "blowtorch",
    "bluebird",
    "bombast",
    "bookshelf",
    "brackish",
    "breadline",
    "breakup",
    "brickyard",
    "briefcase",
    "Burbank",
    "button",
    "buzzard",
    "cement",
    "chairlift",
    "chatter",
    "checkup",
    "chisel",
    "choking",
    "chopper",
    "Christmas",
    "clamshell",
    "classic",
    "classroom",
    "cleanup",
    "clockwork",
    "cobra",
    "commence",
    "concert",
    "cowbell",
    "crackdown",
    "cranky",
    "crowfoot",
    "crucial",
    "crumpled",
    "crusade",
    "cubic",
    "dashboard",
    "deadbolt",
    "deckhand",
    "dogsled",
    "dragnet",
    "drainage",
    "dreadful",
    "drifter",
    "dropper",
    "drumbeat",
    "drunken",
    "Dupont",
    "dwelling",
    "eating",
    "edict",
    "egghead",
    "eightball",
    "endorse",
    "endow",
    "enlist",
    "erase",
    "escape",
    "exceed",
    "eyeglass",
    "eyetooth",
    "facial",
    "fallout",
    "flagpole",
    "flatfoot",
    "flytrap",
    "fracture",
    "framework",
    "freedom",
    "frighten",
    "gazelle",
    "Geiger",
    "glitter",
    "glucose",
    "goggles",
    "goldfish",
    "gremlin",
    "guidance",
    "hamlet",
    "highchair",
    "hockey",
    "indoors",
    "indulge",
    "inverse",
    "involve",
    "island",
    "jawbone",
    "keyboard",
    "kickoff",
    "kiwi",
    "klaxon",
    "locale",
    "lockup",
    "merit",
    "minnow",
    "miser",
    "Mohawk",
    "mural",
    "music",
    "necklace",
    "Neptune",
    "newborn",
    "nightbird",
    "Oakland",
    "obtuse",
    "offload",
    "optic",
    "orca",
    "payday",
    "peachy",
    "pheasant",
    "physique",
    "playhouse",
    "Pluto",
    "preclude",
    "prefer",
    "preshrunk",
    "printer",
    "prowler",
    "pupil",
    "puppy",
    "python",
    "quadrant",
    "quiver",
    "quota",
    "ragtime",
    "ratchet",
    "rebirth",
    "reform",
    "regain",
    "reindeer",
    "rematch",
    "repay",
    "retouch",
    "revenge",
    "reward",
    "rhythm",
    "ribcage",
    "ringbolt",
    "robust",
    "rocker",
    "ruffled",
    "sailboat",
    "sawdust",
    "scallion",
    "scenic",
    "scorecard",
    "Scotland",
    "seabird",
    "select",
    "sentence",
    "shadow",
    "shamrock",
    "showgirl",
    "skullcap",
    "skydive",
    "slingshot",
    "slowdown",
    "snapline",
    "snapshot",
    "snowcap",
    "snowslide",
    "solo",
    "southward",
    "soybean",
    "spaniel",
    "spearhead",
    "spellbind",
    "spheroid",
    "spigot",
    "spindle",
    "spyglass",
    "stagehand",
    "stagnate",
    "stairway",
    "standard",
    "stapler",
    "steamship",
    "sterling",
    "stockman",
    "stopwatch",
    "stormy",
    "sugar",
    "surmount",
    "suspense",
    "sweatband",
    "swelter",
    "tactics",
    "talon",
    "tapeworm",
    "tempest",
    "tiger",
    "tissue",
    "tonic",
    "topmost",
    "tracker",
    "transit",
    "trauma",
    "treadmill",
    "Trojan",
    "trouble",
    "tumor",
    "tunnel",
    "tycoon",
    "uncut",
    "unearth",
    "unwind",
    "uproot",
    "upset",
    "upshot",
    "vapor",
    "village",
    "virus",
    "Vulcan",
    "waffle",
    "wallet",
    "watchword",
    "wayside",
    "willow",
    "woodlark",
    "Zulu",
];

const ODD: [&str; 256] = [
    "adroitness",
    "adviser",
    "aftermath",
    "aggregate",
    "alkali",
    "almighty",
    "amulet",
    "amusement",
    "antenna",
    "applicant",
    "Apollo",
    "armistice",
    "article",
    "asteroid",
    "Atlantic",
    "atmosphere",
    "autopsy",
    "Babylon",
    "backwater",
    "barbecue",
    "belowground",
    "bifocals",
    "bodyguard",
    "bookseller",
    "borderline",
    "bottomless",
    "Bradbury",
    "bravado",
    "Brazilian",
    "breakaway",
    "Burlington",
    "businessman",
    "butterfat",
    "Camelot",
    "candidate",
    "cannonball",
    "Capricorn",
    "caravan",
    "caretaker",
    "celebrate",
    "cellulose",
    "certify",
    "chambermaid",
    "Cherokee",
    "Chicago",
    "clergyman",
    "coherence",
    "combustion",
    "commando",
    "company",
    "component",
    "concurrent",
    "confidence",
    "conformist",
    "congregate",
    "consensus",
    "consulting",
    "corporate",
    "corrosion",
    "councilman",
    "crossover",
    "crucifix",
    "cumbersome",
    "customer",
    "Dakota",
    "decadence",
    "December",
    "decimal",
    "designing",
    "detector",
    "detergent",
    "determine",
    "dictator",
    "dinosaur",
    "direction",
    "disable",
    "disbelief",
    "disruptive",
    "distortion",
    "document",
    "embezzle",
    "enchanting",
    "enrollment",
    "enterprise",
    "equation",
    "equipment",
    "escapade",
    "Eskimo",
    "everyday",
    "examine",
    "existence",
    "exodus",
    "fascinate",
    "filament",
    "finicky",
    "forever",
    "fortitude",
    "frequency",
    "gadgetry",
    "Galveston",
    "getaway",
    "glossary",
    "gossamer",
    "graduate",
    "gravity",
    "guitarist",
    "hamburger",
    "Hamilton",
    "handiwork",
    "hazardous",
    "headwaters",
    "hemisphere",
    "hesitate",
    "hideaway",
    "holiness",
    "hurricane",
    "hydraulic",
    "impartial",
    "impetus",
    "inception",
    "indigo",
    "inertia",
    "infancy",
    "inferno",
    "informant",
    "insincere",
    "insurgent",
    "integrate",
    "intention",
    "inventive",
    "Istanbul",
    "Jamaica",
    "Jupiter",
    "leprosy",
    "letterhead",
    "liberty",
    "maritime",
    "matchmaker",
    "maverick",
    "Medusa",
    "megaton",
    "microscope",
    "microwave",
    "midsummer",
    "millionaire",
    "miracle",
    "misnomer",
    "molasses",
    "molecule",
    "Montana",
    "monument",
    "mosquito",
    "narrative",
    "nebula",
    "newsletter",
    "Norwegian",
    "October",
    "Ohio",
    "onlooker",
    "opulent",
    "Orlando",
    "outfielder",
    "Pacific",
    "pandemic",
    "Pandora",
    "paperweight",
    "paragon",
    "paragraph",
    "paramount",
    "passenger",
    "pedigree",
    "Pegasus",
    "penetrate",
    "perceptive",
    "performance",
    "pharmacy",
    "phonetic",
    "photograph",
    "pioneer",
    "pocketful",
    "politeness",
    "positive",
    "potato",
    "processor",
    "provincial",
    "proximate",
    "puberty",
    "publisher",
    "pyramid",
    "quantity",
    "racketeer",
    "rebellion",
    "recipe",
    "recover",
    "repellent",
    "replica",
    "reproduce",
    "resistor",
    "responsive",
    "retraction",
    "retrieval",
    "retrospect",
    "revenue",
    "revival",
    "revolver",
    "sandalwood",
    "sardonic",
    "Saturday",
    "savagery",
    "scavenger",
    "sensation",
    "sociable",
    "souvenir",
    "specialist",
    "speculate",
    "stethoscope",
    "stupendous",
    "supportive",
    "surrender",
    "suspicious",
    "sympathy",
    "tambourine",
    "telephone",
    "therapist",
    "tobacco",
    "tolerance",
    "tomorrow",
    "torpedo",
    "tradition",
    "travesty",
    "trombonist",
    "truncated",
    "typewriter",
    "ultimate",
    "undaunted",
    "underfoot",
    "unicorn",
    "unify",
    "universe",
    "unravel",
    "upcoming",
    "vacancy",
    "vagabond",
    "vertigo",
    "Virginia",
    "visitor",
    "vocalist",
    "voyager",
    "warranty",
    "Waterloo",
    "whimsical",
    "Wichita",
    "Wilmington",
    "Wyoming",
    "yesteryear",
    "Yucatan",
];

/// The PGP words for `bytes`, separated by single spaces.
pub fn to_words(bytes: &[u8]) -> String {
    bytes
        .iter()
        .enumerate()
        .map(|(i, b)| {
            if i % 2 == 0 {
                EVEN[*b as usize]
            } else {
                ODD[*b as usize]
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `to_words` in groups of four words a line, for reading aloud and for print.
pub fn to_word_lines(bytes: &[u8]) -> Vec<String> {
    let words = to_words(bytes);
    let all: Vec<&str> = words.split(' ').collect();
    all.chunks(4).map(|c| c.join(" ")).collect()
}

/// The first and the last word of `bytes`, which the officers type to confirm a
/// fingerprint they read aloud (empty for no bytes).
pub fn first_last(bytes: &[u8]) -> (&'static str, &'static str) {
    let word = |i: usize, b: u8| {
        if i.is_multiple_of(2) {
            EVEN[b as usize]
        } else {
            ODD[b as usize]
        }
    };
    match (bytes.first(), bytes.last()) {
        (Some(f), Some(l)) => (word(0, *f), word(bytes.len() - 1, *l)),
        _ => ("", ""),
    }
}

/// Where a word is in the PGP lists: its byte, and whether it is an even-position word.
fn lookup(word: &str) -> Option<(u8, bool)> {
    let find = |list: &[&str; 256]| list.iter().position(|w| w.eq_ignore_ascii_case(word));
    if let Some(b) = find(&EVEN) {
        return Some((b as u8, true));
    }
    find(&ODD).map(|b| (b as u8, false))
}

/// Edit distance of two short lowercase words (for naming the word a typo was meant to be).
fn distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// The word of the right list closest to a mistyped `word`, if one is close (at most two
/// edits).
fn closest(word: &str, even: bool) -> Option<&'static str> {
    let list = if even { &EVEN } else { &ODD };
    let lower = word.to_lowercase();
    list.iter()
        .map(|w| (distance(&lower, &w.to_lowercase()), *w))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, w)| w)
}

/// The bytes that `words` (as [`to_words`] prints them) stand for, `len` of them.
///
/// Forgiving where a person may differ harmlessly: case, and any run of spaces, tabs,
/// newlines, commas or hyphens between words. Strict where a mistake hides: every word
/// must be in the list for its position (even or odd), so a dropped, repeated or swapped
/// word is caught where it happens, and the error names the word (and, for a typo, the
/// word it is probably meant to be).
pub fn from_words(words: &str, len: usize) -> crate::Result<Vec<u8>> {
    let given: Vec<&str> = words
        .split(|c: char| c.is_whitespace() || c == ',' || c == '-')
        .filter(|w| !w.is_empty())
        .collect();
    let mut out = Vec::with_capacity(len);
    for (i, w) in given.iter().enumerate() {
        let even = i % 2 == 0;
        let n = i + 1;
        let shown: String = w.chars().filter(|c| !c.is_control()).take(40).collect();
        match lookup(w) {
            Some((b, e)) if e == even => out.push(b),
            Some(_) => crate::bail!(
                "word {n} ({shown:?}) is a word for {} positions, but word {n} takes one for {} positions: a word was dropped, repeated or swapped just before it",
                if even { "odd" } else { "even" },
                if even { "even" } else { "odd" }
            ),
            None => match closest(w, even) {
                Some(c) => crate::bail!(
                    "word {n} ({shown:?}) is not in the PGP word list: did you mean {c:?}?"
                ),
                None => crate::bail!("word {n} ({shown:?}) is not in the PGP word list"),
            },
        }
    }
    if out.len() != len {
        crate::bail!("{} words given, but a digest is {len} words", out.len());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_and_last_word() {
        let bytes = hex::decode("E58294F2E9A227486E8B061B31CC528FD7FA3F19").unwrap();
        let all = to_words(&bytes);
        let (f, l) = first_last(&bytes);
        assert!(all.starts_with(&format!("{f} ")) && all.ends_with(&format!(" {l}")));
        assert_eq!(first_last(&[]), ("", ""));
    }

    #[test]
    fn documented_test_vector() {
        // The example from the PGP word list's documentation.
        let bytes = hex::decode("E58294F2E9A227486E8B061B31CC528FD7FA3F19").unwrap();
        assert_eq!(
            to_words(&bytes),
            "topmost Istanbul Pluto vagabond treadmill Pacific brackish dictator goldfish \
             Medusa afflict bravado chatter revolver Dupont midsummer stopwatch whimsical \
             cowbell bottomless"
        );
    }

    #[test]
    fn lists_match_the_published_list() {
        // SHA-256 of EVEN.join("\n") + "\n" + ODD.join("\n"), as published
        // copies of the list pin it; any typo in a word changes it.
        use sha2::{Digest, Sha256};
        let joined = format!("{}\n{}", EVEN.join("\n"), ODD.join("\n"));
        assert_eq!(
            hex::encode(Sha256::digest(joined.as_bytes())),
            "e9b7b0052233a74aa56724ed3f79c272036aed68d8f4c0856e833c8043b9ac62"
        );
        let mut all: Vec<String> = EVEN
            .iter()
            .chain(ODD.iter())
            .map(|w| w.to_lowercase())
            .collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 512, "no word repeats across the lists");
    }

    #[test]
    fn words_decode_forgivingly_and_name_the_wrong_word() {
        let bytes = hex::decode("E58294F2E9A227486E8B061B31CC528FD7FA3F19").unwrap();
        let words = to_words(&bytes);
        assert_eq!(from_words(&words, 20).unwrap(), bytes);
        let messy = format!("  {}\n", words.to_uppercase().replace(' ', " ,\t - "));
        assert_eq!(from_words(&messy, 20).unwrap(), bytes);
        let typo = words.replacen("Pluto", "Plut0", 1);
        assert_eq!(
            from_words(&typo, 20).unwrap_err().message(),
            "word 3 (\"Plut0\") is not in the PGP word list: did you mean \"Pluto\"?"
        );
        let dropped = words.replacen("Pluto ", "", 1);
        let e = from_words(&dropped, 20).unwrap_err();
        assert!(
            e.message()
                .starts_with("word 3 (\"vagabond\") is a word for odd positions"),
            "{e}"
        );
        let short: Vec<&str> = words.split(' ').take(18).collect();
        assert_eq!(
            from_words(&short.join(" "), 20).unwrap_err().message(),
            "18 words given, but a digest is 20 words"
        );
        assert!(from_words("zzzzzzzz", 20)
            .unwrap_err()
            .message()
            .ends_with("not in the PGP word list"));
    }
}

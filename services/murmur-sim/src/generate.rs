//! The seeded stream generator.
//!
//! One hour of event time after another, it writes:
//!
//! - **stable crowds** ([`CROWDS`]): big channels (two subreddits, two Telegram channels with
//!   their discussion comments, a Mastodon and a Bluesky hashtag) where a pool of actors posts at a
//!   constant Poisson rate (about 580 posts per hour in all) and replies to random recent posts:
//!   background chatter with a stable vocabulary, which must never fire as a weak signal. The
//!   volume matters: a term is *visible* (a strong, not a weak, signal) once it is in 1% of a
//!   bucket's posts, and firing needs 5 distinct authors, so weak signals need buckets of well over
//!   500 posts;
//! - **planted micro-communities** ([`PLANTED`]): groups of 60–90 actors, each in its own niche
//!   channel and language, absent before their onset hour; then their members join over about
//!   seven hours and their volume grows geometrically (`4 · 1.35^h` posts per hour, capped), 80%
//!   of it replies to and mentions of each other, with their own vocabulary; 4% of their posts are
//!   replies into the crowd of their platform (noise);
//! - **planted weak signals** ([`SIGNALS`]): terms silent until their onset, then used at
//!   `1.2 · 1.7^h` posts per hour (capped at 30) in their origin community, spreading to other
//!   communities and to a crowd a few hours later, each by several distinct authors;
//! - a **sentiment shift**: one community's positive share drops from 0.65 to 0.15 at hour 26.
//!
//! Ids follow each platform's shape (`reddit:t3_…`/`t1_…`, `telegram:<channel>/<n>`,
//! `mastodon:<host>/<snowflake>`, `bluesky:at://did:plc:…/app.bsky.feed.post/<rkey>`), authors are
//! raw handles (the ingestor pseudonymises them), and the output is sorted by `created_at`, each
//! reply strictly after its parent. Same seed and settings, byte-identical output.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use murmur_connectors::replay::{ReplayEngagement, ReplayRecord};

use crate::truth::{CommunityKind, SpreadStep, Truth, TruthCommunity, TruthSentimentShift, TruthSignal};

/// Settings of one generated stream.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Seed of every random draw.
    pub seed: u64,
    /// Event time of the first hour.
    pub start: DateTime<Utc>,
    /// Hours of event time generated.
    pub hours: u32,
    /// Multiplies every volume (crowds, communities, signals); community sizes stay the same.
    pub scale: f64,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 7,
            start: DateTime::parse_from_rfc3339("2026-11-02T00:00:00Z").map(|at| at.to_utc()).unwrap_or_default(),
            hours: 36,
            scale: 1.0,
        }
    }
}

/// A generated stream and its truth.
#[derive(Debug, Clone)]
pub struct SimStream {
    /// Replay records in `created_at` order.
    pub records: Vec<ReplayRecord>,
    /// What was planted.
    pub truth: Truth,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plat {
    Reddit,
    Telegram,
    Mastodon,
    Bluesky,
}

impl Plat {
    fn name(self) -> &'static str {
        match self {
            Plat::Reddit => "reddit",
            Plat::Telegram => "telegram",
            Plat::Mastodon => "mastodon",
            Plat::Bluesky => "bluesky",
        }
    }
}

const MASTODON_HOST: &str = "mastodon.social";

/// A stable background crowd.
struct CrowdSpec {
    id: &'static str,
    plat: Plat,
    channel: &'static str,
    language: Lang,
    pool: usize,
    posts_per_hour: f64,
    audience: i64,
    vocabulary: &'static [&'static str],
}

/// An emerging micro-community.
struct PlantedSpec {
    id: &'static str,
    plat: Plat,
    channel: &'static str,
    language: Lang,
    size: usize,
    onset_hour: u32,
    peak_per_hour: f64,
    audience: i64,
    vocabulary: &'static [&'static str],
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Lang {
    En,
    Fr,
}

impl Lang {
    fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Fr => "fr",
        }
    }
}

/// Where a planted term is used: a planted community (index into [`PLANTED`]) or a crowd.
#[derive(Clone, Copy)]
enum Target {
    Planted(usize),
    Crowd(usize),
}

struct SignalSpec {
    term: &'static str,
    language: Lang,
    onset_hour: u32,
    /// Targets with their delay (hours) after the onset; the first is the origin (delay 0).
    spread: &'static [(Target, u32)],
}

const CROWDS: &[CrowdSpec] = &[
    CrowdSpec {
        id: "technology",
        plat: Plat::Reddit,
        channel: "technology",
        language: Lang::En,
        pool: 400,
        posts_per_hour: 180.0,
        audience: 15_800_000,
        vocabulary: &[
            "smartphone",
            "laptop",
            "processor",
            "chip",
            "software",
            "update",
            "battery",
            "screen",
            "startup",
            "privacy",
            "browser",
            "cloud",
            "keyboard",
            "antitrust",
            "robotics",
            "streaming",
        ],
    },
    CrowdSpec {
        id: "france",
        plat: Plat::Reddit,
        channel: "france",
        language: Lang::Fr,
        pool: 300,
        posts_per_hour: 135.0,
        audience: 1_200_000,
        vocabulary: &[
            "gouvernement",
            "grève",
            "retraite",
            "boulangerie",
            "métro",
            "loyer",
            "impôts",
            "université",
            "élection",
            "météo",
            "vacances",
            "fromage",
            "assemblée",
            "budget",
            "région",
            "marché",
        ],
    },
    CrowdSpec {
        id: "techdigest",
        plat: Plat::Telegram,
        channel: "techdigest",
        language: Lang::En,
        pool: 150,
        posts_per_hour: 54.0,
        audience: 48_000,
        vocabulary: &[
            "release",
            "benchmark",
            "firmware",
            "security",
            "patch",
            "vulnerability",
            "opensource",
            "server",
            "linux",
            "database",
            "kernel",
            "compiler",
        ],
    },
    CrowdSpec {
        id: "actu_fr",
        plat: Plat::Telegram,
        channel: "actu_fr",
        language: Lang::Fr,
        pool: 150,
        posts_per_hour: 45.0,
        audience: 31_000,
        vocabulary: &[
            "ministre",
            "sénat",
            "réforme",
            "sondage",
            "préfecture",
            "tribunal",
            "manifestation",
            "mairie",
            "inflation",
            "carburant",
            "hôpital",
            "agriculteurs",
        ],
    },
    CrowdSpec {
        id: "photography",
        plat: Plat::Mastodon,
        channel: "#photography",
        language: Lang::En,
        pool: 250,
        posts_per_hour: 90.0,
        audience: 0,
        vocabulary: &[
            "lens",
            "aperture",
            "portrait",
            "landscape",
            "sunset",
            "film",
            "exposure",
            "tripod",
            "monochrome",
            "streetphotography",
            "bokeh",
            "shutter",
        ],
    },
    CrowdSpec {
        id: "cinema",
        plat: Plat::Bluesky,
        channel: "#cinema",
        language: Lang::Fr,
        pool: 200,
        posts_per_hour: 75.0,
        audience: 0,
        vocabulary: &[
            "réalisateur",
            "scénario",
            "acteur",
            "actrice",
            "séance",
            "bande-annonce",
            "festival",
            "documentaire",
            "comédie",
            "polar",
            "avant-première",
            "cinémathèque",
        ],
    },
];

const PLANTED: &[PlantedSpec] = &[
    PlantedSpec {
        id: "solarpunkdiy",
        plat: Plat::Reddit,
        channel: "solarpunkdiy",
        language: Lang::En,
        size: 90,
        onset_hour: 3,
        peak_per_hour: 90.0,
        audience: 1_400,
        vocabulary: &[
            "microinverter",
            "balcony",
            "panel",
            "wiring",
            "lifepo4",
            "inverter",
            "rooftop",
            "greywater",
            "rainbarrel",
            "trellis",
            "permaculture",
            "offgrid",
        ],
    },
    PlantedSpec {
        id: "velotaf_lyon",
        plat: Plat::Telegram,
        channel: "velotaf_lyon",
        language: Lang::Fr,
        size: 70,
        onset_hour: 5,
        peak_per_hour: 70.0,
        audience: 2_100,
        vocabulary: &[
            "vélotaf",
            "sacoche",
            "piste",
            "antivol",
            "garde-boue",
            "éclairage",
            "crevaison",
            "dérailleur",
            "itinéraire",
            "rhône",
            "presqu'île",
            "trottoir",
        ],
    },
    PlantedSpec {
        id: "fermentation",
        plat: Plat::Mastodon,
        channel: "#fermentation",
        language: Lang::En,
        size: 80,
        onset_hour: 7,
        peak_per_hour: 80.0,
        audience: 0,
        vocabulary: &[
            "koji",
            "miso",
            "sauerkraut",
            "kimchi",
            "brine",
            "lactofermentation",
            "crock",
            "scoby",
            "tempeh",
            "starter",
            "airlock",
            "ferment",
        ],
    },
    PlantedSpec {
        id: "tricotage",
        plat: Plat::Bluesky,
        channel: "#tricotage",
        language: Lang::Fr,
        size: 60,
        onset_hour: 9,
        peak_per_hour: 60.0,
        audience: 0,
        vocabulary: &[
            "aiguilles",
            "laine",
            "pelote",
            "maille",
            "torsades",
            "jacquard",
            "mohair",
            "chaussettes",
            "patron",
            "écheveau",
            "alpaga",
            "point-mousse",
        ],
    },
];

const SIGNALS: &[SignalSpec] = &[
    SignalSpec {
        term: "glowtape",
        language: Lang::En,
        onset_hour: 16,
        spread: &[(Target::Planted(0), 0), (Target::Planted(2), 3), (Target::Crowd(0), 6)],
    },
    SignalSpec {
        term: "vélocargo",
        language: Lang::Fr,
        onset_hour: 18,
        spread: &[(Target::Planted(1), 0), (Target::Planted(3), 3), (Target::Crowd(1), 5)],
    },
    SignalSpec {
        term: "#agrivoltaics",
        language: Lang::En,
        onset_hour: 20,
        spread: &[(Target::Planted(0), 0), (Target::Crowd(2), 4)],
    },
];

/// Planted community whose mood turns, and when.
const SHIFT: (usize, u32) = (2, 26);
const POSITIVE_SHARE: f64 = 0.65;
const POSITIVE_SHARE_AFTER_SHIFT: f64 = 0.15;

const FILLERS_EN: &[&str] = &["the", "my", "with", "and", "for", "this", "just", "about", "on", "our"];
const FILLERS_FR: &[&str] = &["le", "la", "les", "mon", "avec", "et", "pour", "ce", "sur", "du"];
const POSITIVE_EN: &[&str] = &["love it", "really great", "awesome", "so happy with it", "amazing"];
const NEGATIVE_EN: &[&str] = &["terrible", "hate this", "awful", "so disappointed", "totally broken"];
const POSITIVE_FR: &[&str] = &["j'adore", "super", "génial", "magnifique", "bravo"];
const NEGATIVE_FR: &[&str] = &["nul", "horrible", "décevant", "triste", "je déteste"];
const ADJECTIVES: &[&str] = &[
    "quiet", "brave", "amber", "lucky", "rusty", "sunny", "misty", "bold", "calm", "swift", "tiny", "wild", "gentle",
    "hazel", "ivory", "jolly",
];
const NOUNS: &[&str] = &[
    "fern", "owl", "river", "pixel", "maple", "otter", "comet", "harbor", "cedar", "falcon", "meadow", "lynx",
    "pebble", "willow", "badger", "spark",
];

/// SplitMix64: small, fast, and the same on every platform and version.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound.max(1) as u64) as usize
    }

    fn chance(&mut self, probability: f64) -> bool {
        self.unit() < probability
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// Poisson draw (Knuth for small means, rounded normal approximation above 30).
    fn poisson(&mut self, mean: f64) -> usize {
        if mean <= 0.0 {
            return 0;
        }
        if mean > 30.0 {
            let u1 = self.unit().max(f64::MIN_POSITIVE);
            let u2 = self.unit();
            let normal = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
            return (mean + normal * mean.sqrt()).round().max(0.0) as usize;
        }
        let limit = (-mean).exp();
        let mut product = self.unit();
        let mut count = 0;
        while product > limit {
            product *= self.unit();
            count += 1;
        }
        count
    }
}

/// A post already written, kept so later posts can reply to it.
#[derive(Clone)]
struct Recent {
    at_ms: i64,
    id: String,
    root: String,
    author: String,
}

/// One place people talk in: a crowd or a planted community.
struct Place {
    id: &'static str,
    plat: Plat,
    channel: String,
    language: Lang,
    audience: i64,
    vocabulary: &'static [&'static str],
    /// Handles, in joining order.
    members: Vec<String>,
    /// Handles that posted at least once.
    posted: BTreeSet<String>,
    recent: VecDeque<Recent>,
    /// Telegram: the channel's own posts (comments reply to them).
    channel_posts: VecDeque<Recent>,
    onset_ms: Option<i64>,
}

struct Generator {
    rng: Rng,
    config: SimConfig,
    records: Vec<(i64, u64, ReplayRecord)>,
    sequence: u64,
    reddit_ids: u64,
    mastodon_ids: u64,
    bluesky_ids: u64,
    telegram_ids: BTreeMap<String, u64>,
    crowds: Vec<Place>,
    planted: Vec<Place>,
}

/// Keep posts this long as reply targets.
const RECENT_MS: i64 = 4 * 3_600_000;

fn base36(mut value: u64) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(value % 36) as usize]);
        value /= 36;
        if value == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

fn rfc3339(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default().to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl Generator {
    fn new(config: SimConfig) -> Self {
        let mut rng = Rng(config.seed ^ 0x6D75_726D_7572);
        let mut used = BTreeSet::new();
        let mut handles = |rng: &mut Rng, plat: Plat, count: usize| -> Vec<String> {
            let mut out = Vec::with_capacity(count);
            while out.len() < count {
                let (adjective, noun, number) = (rng.pick(ADJECTIVES), rng.pick(NOUNS), rng.below(1000));
                let handle = match plat {
                    Plat::Bluesky => format!("{adjective}-{noun}-{number}.bsky.social"),
                    _ => format!("{adjective}_{noun}_{number}"),
                };
                if used.insert((plat.name(), handle.clone())) {
                    out.push(handle);
                }
            }
            out
        };
        let place = |id, plat, channel: &str, language, audience, vocabulary, members| Place {
            id,
            plat,
            channel: match plat {
                Plat::Mastodon => format!("{MASTODON_HOST}/{channel}"),
                _ => channel.to_string(),
            },
            language,
            audience,
            vocabulary,
            members,
            posted: BTreeSet::new(),
            recent: VecDeque::new(),
            channel_posts: VecDeque::new(),
            onset_ms: None,
        };
        let crowds = CROWDS
            .iter()
            .map(|spec| {
                let members = handles(&mut rng, spec.plat, spec.pool);
                place(spec.id, spec.plat, spec.channel, spec.language, spec.audience, spec.vocabulary, members)
            })
            .collect();
        let planted = PLANTED
            .iter()
            .map(|spec| {
                let members = handles(&mut rng, spec.plat, spec.size);
                place(spec.id, spec.plat, spec.channel, spec.language, spec.audience, spec.vocabulary, members)
            })
            .collect();
        Generator {
            rng,
            config,
            records: Vec::new(),
            sequence: 0,
            reddit_ids: 0x2_F1A0_0000,
            mastodon_ids: 113_500_000_000_000_000,
            bluesky_ids: 0,
            telegram_ids: BTreeMap::new(),
            crowds,
            planted,
        }
    }

    fn hour_ms(&self, hour: u32) -> i64 {
        self.config.start.timestamp_millis() + i64::from(hour) * 3_600_000
    }

    fn place(&mut self, target: Target) -> &mut Place {
        match target {
            Target::Planted(index) => &mut self.planted[index],
            Target::Crowd(index) => &mut self.crowds[index],
        }
    }

    fn run(mut self) -> SimStream {
        for hour in 0..self.config.hours {
            let start_ms = self.hour_ms(hour);
            // Planted terms used this hour, per place: they ride on that place's own posts, so a
            // crowd's volume (and its vocabulary's) stays what it was.
            let mut terms: BTreeMap<(bool, usize), Vec<&'static str>> = BTreeMap::new();
            for signal in SIGNALS {
                for &(target, delay) in signal.spread {
                    let since = signal.onset_hour + delay;
                    if hour < since {
                        continue;
                    }
                    let mean = (1.2 * 1.7f64.powf(f64::from(hour - since))).min(30.0) * self.config.scale.sqrt();
                    let count = self.rng.poisson(mean).max(1);
                    let key = match target {
                        Target::Planted(index) => (true, index),
                        Target::Crowd(index) => (false, index),
                    };
                    terms.entry(key).or_default().extend(std::iter::repeat_n(signal.term, count));
                }
            }
            for (index, spec) in CROWDS.iter().enumerate() {
                let mean = spec.posts_per_hour * self.config.scale;
                let mut uses = terms.remove(&(false, index)).unwrap_or_default();
                // A term rides on at most half of a crowd's posts, so the crowd's volume (and its
                // vocabulary's) stays what it was.
                uses.truncate((mean * 0.5) as usize);
                let count = self.rng.poisson(mean).max(uses.len());
                self.place_hour(Target::Crowd(index), start_ms, count, uses, 0.0);
            }
            for (index, spec) in PLANTED.iter().enumerate() {
                if hour < spec.onset_hour {
                    continue;
                }
                let uses = terms.remove(&(true, index)).unwrap_or_default();
                let age = f64::from(hour - spec.onset_hour);
                let mean = (4.0 * 1.35f64.powf(age)).min(spec.peak_per_hour) * self.config.scale;
                let count = self.rng.poisson(mean).max(1).max(uses.len());
                self.place_hour(Target::Planted(index), start_ms, count, uses, 0.04);
            }
        }
        self.finish()
    }

    /// Writes `count` posts of one place in the hour starting at `start_ms`; `terms` (at most
    /// `count`) are spread over them at random.
    fn place_hour(&mut self, target: Target, start_ms: i64, count: usize, mut terms: Vec<&str>, crowd_noise: f64) {
        let mut times: Vec<i64> = (0..count).map(|_| start_ms + self.rng.below(3_600_000) as i64).collect();
        times.sort_unstable();
        let planted = matches!(target, Target::Planted(_));
        let plat = self.place(target).plat;
        if plat == Plat::Telegram {
            // The channel itself posts a couple of times per hour; members comment below.
            for slot in 0..2 {
                self.telegram_channel_post(target, start_ms + 60_000 + slot * 1_700_000);
            }
        }
        if planted && self.place(target).onset_ms.is_none() {
            let channel_post = (plat == Plat::Telegram).then_some(start_ms + 60_000);
            self.place(target).onset_ms = times.first().copied().into_iter().chain(channel_post).min();
        }
        for (position, at_ms) in times.into_iter().enumerate() {
            let remaining = count - position;
            let term = if !terms.is_empty() && self.rng.below(remaining) < terms.len() { terms.pop() } else { None };
            let author = self.pick_author(target, at_ms);
            if term.is_none() && crowd_noise > 0.0 && self.rng.chance(crowd_noise) {
                // A member strays into the crowd of its platform: one noise edge.
                if let Some(crowd) = CROWDS.iter().position(|crowd| crowd.plat == plat) {
                    self.write_post(Target::Crowd(crowd), at_ms, &author, None, true, false);
                    continue;
                }
            }
            let reply_share = if planted { 0.8 } else { 0.55 };
            let reply = self.rng.chance(reply_share);
            self.write_post(target, at_ms, &author, term, reply, planted);
        }
    }

    /// A member active at `at_ms`: planted communities' members join over ~7 hours after onset.
    fn pick_author(&mut self, target: Target, at_ms: i64) -> String {
        let active = {
            let place = self.place(target);
            let size = place.members.len();
            let active = match (target, place.onset_ms) {
                (Target::Planted(_), Some(onset)) => {
                    let hours = (at_ms - onset).max(0) as f64 / 3_600_000.0;
                    ((size as f64) * (0.35 + 0.09 * hours).min(1.0)).ceil() as usize
                }
                _ => size,
            };
            active.clamp(1, size)
        };
        let index = self.rng.below(active);
        self.place(target).members[index].clone()
    }

    fn telegram_channel_post(&mut self, target: Target, at_ms: i64) {
        let (channel, language, vocabulary, audience) = {
            let place = self.place(target);
            (place.channel.clone(), place.language, place.vocabulary, place.audience)
        };
        let number = self.next_telegram_id(&channel);
        let id = format!("telegram:{channel}/{number}");
        let text = self.text(language, vocabulary, POSITIVE_SHARE, None, None);
        let mut record = self.base_record(&id, Plat::Telegram, &channel, at_ms, &channel, text, language);
        record.kind = Some("post".into());
        record.channel_audience = Some(audience);
        record.engagement.views = (audience / 10 + self.rng.below(2000) as i64).max(1);
        record.permalink = format!("https://t.me/{channel}/{number}");
        // Now and then a channel forwards another channel's recent post (links channels).
        let others: Vec<String> = self
            .crowds
            .iter()
            .chain(self.planted.iter())
            .filter(|place| place.plat == Plat::Telegram && place.channel != channel)
            .filter_map(|place| place.channel_posts.back().map(|post| post.id.clone()))
            .collect();
        if !others.is_empty() && self.rng.chance(0.15) {
            let source = self.rng.pick(&others).clone();
            record.kind = Some("forward".into());
            record.forwarded_from = source;
        }
        let recent = Recent { at_ms, id: id.clone(), root: id.clone(), author: channel.clone() };
        let place = self.place(target);
        place.channel_posts.push_back(recent);
        while place.channel_posts.front().is_some_and(|post| post.at_ms < at_ms - RECENT_MS) {
            place.channel_posts.pop_front();
        }
        self.push(at_ms, record);
    }

    fn next_telegram_id(&mut self, chat: &str) -> u64 {
        let next = self.telegram_ids.entry(chat.to_string()).or_insert(100);
        *next += 1;
        *next
    }

    /// One post (or reply) by `author` in the place `target`.
    fn write_post(&mut self, target: Target, at_ms: i64, author: &str, term: Option<&str>, reply: bool, mention: bool) {
        let (plat, channel, language, vocabulary, audience) = {
            let place = self.place(target);
            (place.plat, place.channel.clone(), place.language, place.vocabulary, place.audience)
        };
        let shifted = matches!(target, Target::Planted(index) if index == SHIFT.0) && at_ms >= self.hour_ms(SHIFT.1);
        let positive = if shifted { POSITIVE_SHARE_AFTER_SHIFT } else { POSITIVE_SHARE };
        // Reply target: a recent post of the place, before this one, by someone else.
        let parent = if reply || plat == Plat::Telegram {
            let candidates: Vec<Recent> = {
                let place = self.place(target);
                let pool = if plat == Plat::Telegram && (!reply || place.recent.is_empty()) {
                    &place.channel_posts
                } else {
                    &place.recent
                };
                pool.iter().filter(|post| post.at_ms < at_ms && post.author != author).cloned().collect()
            };
            if candidates.is_empty() {
                None
            } else {
                // Favour the latest posts, like live threads.
                let skew = self.rng.unit().powi(2);
                let index =
                    candidates.len() - 1 - ((skew * candidates.len() as f64) as usize).min(candidates.len() - 1);
                Some(candidates[index].clone())
            }
        } else {
            None
        };
        if plat == Plat::Telegram && parent.is_none() {
            return; // comments need a channel post to sit under
        }
        let mention_handle = if mention && self.rng.chance(0.2) {
            let other = self.pick_author(target, at_ms);
            (other != author).then_some(other)
        } else {
            None
        };
        let mut text =
            self.text(language, vocabulary, positive, term, mention_handle.as_deref().map(|handle| (plat, handle)));
        if let Some(tag) = channel_tag(&channel) {
            // A hashtag crowd's posts carry its tag (that is how the platforms' tag search finds them).
            text = format!("{text} {tag}");
        }
        let id = match plat {
            Plat::Reddit => {
                self.reddit_ids += 1 + self.rng.below(40) as u64;
                let prefix = if parent.is_some() { "t1" } else { "t3" };
                format!("reddit:{prefix}_{}", base36(self.reddit_ids))
            }
            Plat::Telegram => {
                let chat = format!("{channel}_chat");
                let number = self.next_telegram_id(&chat);
                format!("telegram:{chat}/{number}")
            }
            Plat::Mastodon => {
                self.mastodon_ids += 1 + self.rng.below(1 << 20) as u64;
                format!("mastodon:{MASTODON_HOST}/{}", self.mastodon_ids)
            }
            Plat::Bluesky => {
                self.bluesky_ids += 1 + self.rng.below(1000) as u64;
                let did = format!("did:plc:sim{}", base36(fnv(author)));
                format!("bluesky:at://{did}/app.bsky.feed.post/3l{}", base36(self.bluesky_ids))
            }
        };
        let mut record = self.base_record(&id, plat, &channel, at_ms, author, text, language);
        match &parent {
            Some(parent) => {
                record.kind =
                    Some(if plat == Plat::Reddit || plat == Plat::Telegram { "comment" } else { "reply" }.into());
                record.parent_id = parent.id.clone();
                record.root_id = parent.root.clone();
            }
            None => {
                record.kind = Some("post".into());
                if plat == Plat::Reddit {
                    record.title = record.text.split_whitespace().take(6).collect::<Vec<_>>().join(" ");
                }
            }
        }
        if let Some(handle) = &mention_handle {
            if matches!(plat, Plat::Mastodon | Plat::Bluesky) {
                record.mentions.push(handle.clone());
            }
        }
        record.channel_audience = (audience > 0).then_some(audience);
        record.engagement.score = self.rng.below(60) as i64;
        record.engagement.reactions = self.rng.below(12) as i64;
        let root = parent.as_ref().map(|parent| parent.root.clone()).unwrap_or_else(|| id.clone());
        let place = self.place(target);
        if place.members.iter().any(|member| member == author) {
            place.posted.insert(author.to_string());
        }
        place.recent.push_back(Recent { at_ms, id, root, author: author.to_string() });
        while place.recent.front().is_some_and(|post| post.at_ms < at_ms - RECENT_MS) {
            place.recent.pop_front();
        }
        self.push(at_ms, record);
    }

    #[allow(clippy::too_many_arguments)]
    fn base_record(
        &mut self,
        id: &str,
        plat: Plat,
        channel: &str,
        at_ms: i64,
        author: &str,
        text: String,
        language: Lang,
    ) -> ReplayRecord {
        let permalink = match plat {
            Plat::Reddit => {
                format!("https://www.reddit.com/r/{channel}/comments/{}", id.rsplit('_').next().unwrap_or(""))
            }
            Plat::Mastodon => format!("https://{MASTODON_HOST}/@{author}/{}", id.rsplit('/').next().unwrap_or("")),
            _ => String::new(),
        };
        ReplayRecord {
            id: id.to_string(),
            platform: plat.name().to_string(),
            channel: channel.to_string(),
            author: Some(author.to_string()),
            text,
            created_at: rfc3339(at_ms),
            engagement: ReplayEngagement::default(),
            permalink,
            language_hint: language.code().to_string(),
            ..ReplayRecord::default()
        }
    }

    /// A short post: niche words, a few function words, a sentiment phrase, maybe a planted term
    /// and a mention, and the channel's hashtag where the channel is one.
    fn text(
        &mut self,
        language: Lang,
        vocabulary: &[&str],
        positive_share: f64,
        term: Option<&str>,
        mention: Option<(Plat, &str)>,
    ) -> String {
        let fillers = if language == Lang::En { FILLERS_EN } else { FILLERS_FR };
        let words = 4 + self.rng.below(4);
        let mut parts: Vec<String> = Vec::with_capacity(words * 2 + 4);
        for _ in 0..words {
            parts.push((*self.rng.pick(fillers)).to_string());
            parts.push((*self.rng.pick(vocabulary)).to_string());
        }
        if let Some(term) = term {
            let at = self.rng.below(parts.len() + 1);
            parts.insert(at, term.to_string());
        }
        parts.push(self.mood_phrase(language, positive_share));
        if let Some((plat, handle)) = mention {
            parts.push(match plat {
                Plat::Reddit => format!("u/{handle}"),
                _ => format!("@{handle}"),
            });
        }
        parts.join(" ")
    }

    fn mood_phrase(&mut self, language: Lang, positive: f64) -> String {
        let draw = self.rng.unit();
        let (good, bad) = if language == Lang::En { (POSITIVE_EN, NEGATIVE_EN) } else { (POSITIVE_FR, NEGATIVE_FR) };
        if draw < positive {
            (*self.rng.pick(good)).to_string()
        } else if draw < 0.85 {
            (*self.rng.pick(bad)).to_string()
        } else {
            String::new()
        }
    }

    fn push(&mut self, at_ms: i64, mut record: ReplayRecord) {
        record.text = record.text.trim().to_string();
        self.sequence += 1;
        self.records.push((at_ms, self.sequence, record));
    }

    fn finish(mut self) -> SimStream {
        self.records.sort_by_key(|(at, sequence, _)| (*at, *sequence));
        let start_ms = self.hour_ms(0);
        let end_ms = self.hour_ms(self.config.hours);
        let community = |place: &Place, kind: CommunityKind| TruthCommunity {
            id: place.id.to_string(),
            kind,
            platform: place.plat.name().to_string(),
            channel: place.channel.clone(),
            language: place.language.code().to_string(),
            onset: rfc3339(place.onset_ms.unwrap_or(start_ms)),
            members: place.posted.iter().cloned().collect(),
            vocabulary: place
                .vocabulary
                .iter()
                .map(|word| word.to_string())
                .chain(channel_tag(&place.channel).map(str::to_string))
                .collect(),
        };
        let mut communities: Vec<TruthCommunity> =
            self.planted.iter().map(|place| community(place, CommunityKind::Planted)).collect();
        communities.extend(self.crowds.iter().map(|place| community(place, CommunityKind::Stable)));
        let id_of = |target: Target| match target {
            Target::Planted(index) => PLANTED[index].id,
            Target::Crowd(index) => CROWDS[index].id,
        };
        let signals = SIGNALS
            .iter()
            .filter(|signal| signal.onset_hour < self.config.hours)
            .map(|signal| TruthSignal {
                term: signal.term.to_string(),
                language: signal.language.code().to_string(),
                onset: rfc3339(self.hour_ms(signal.onset_hour)),
                origin: id_of(signal.spread[0].0).to_string(),
                spread: signal
                    .spread
                    .iter()
                    .filter(|(_, delay)| signal.onset_hour + delay < self.config.hours)
                    .map(|&(target, delay)| SpreadStep {
                        community: id_of(target).to_string(),
                        at: rfc3339(self.hour_ms(signal.onset_hour + delay)),
                    })
                    .collect(),
            })
            .collect();
        let background_terms = self
            .crowds
            .iter()
            .flat_map(|crowd| {
                crowd
                    .vocabulary
                    .iter()
                    .map(|word| word.to_string())
                    .chain(channel_tag(&crowd.channel).map(str::to_string))
            })
            .collect();
        let sentiment_shifts = if SHIFT.1 < self.config.hours {
            vec![TruthSentimentShift {
                community: PLANTED[SHIFT.0].id.to_string(),
                at: rfc3339(self.hour_ms(SHIFT.1)),
                positive_share_before: POSITIVE_SHARE,
                positive_share_after: POSITIVE_SHARE_AFTER_SHIFT,
            }]
        } else {
            Vec::new()
        };
        let truth = Truth {
            seed: self.config.seed,
            start: rfc3339(start_ms),
            end: rfc3339(end_ms),
            posts: self.records.len() as u64,
            communities,
            signals,
            background_terms,
            sentiment_shifts,
        };
        let records = std::mem::take(&mut self.records).into_iter().map(|(_, _, record)| record).collect();
        SimStream { records, truth }
    }
}

/// The hashtag of a hashtag channel (`#tag` or `host/#tag`).
fn channel_tag(channel: &str) -> Option<&str> {
    channel.find('#').map(|at| &channel[at..])
}

/// FNV-1a, for stable per-author DIDs.
fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3))
}

/// Generates the stream described by `config`.
pub fn generate(config: &SimConfig) -> SimStream {
    Generator::new(config.clone()).run()
}

/// The end of the stream's event time.
pub fn end_of(config: &SimConfig) -> DateTime<Utc> {
    config.start + Duration::hours(i64::from(config.hours))
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use super::*;

    fn small() -> SimConfig {
        SimConfig { hours: 30, ..SimConfig::default() }
    }

    #[test]
    fn same_seed_same_stream_other_seed_other_stream() {
        let a = generate(&small());
        let b = generate(&small());
        let c = generate(&SimConfig { seed: 8, ..small() });
        let json = |stream: &SimStream| serde_json::to_string(&stream.records).unwrap();
        assert_eq!(json(&a), json(&b));
        assert_eq!(a.truth, b.truth);
        assert_ne!(json(&a), json(&c));
    }

    #[test]
    fn stream_is_time_ordered_with_unique_ids_and_replies_after_their_parents() {
        let stream = generate(&small());
        assert!(stream.records.len() > 5_000, "{} posts", stream.records.len());
        let mut seen: HashMap<&str, &str> = HashMap::new();
        let mut previous = "";
        for record in &stream.records {
            assert!(record.created_at.as_str() >= previous, "{} before {previous}", record.created_at);
            previous = &record.created_at;
            if !record.parent_id.is_empty() {
                let parent_time =
                    seen.get(record.parent_id.as_str()).unwrap_or_else(|| panic!("{} parent unseen", record.id));
                assert!(*parent_time < record.created_at.as_str());
                assert!(seen.contains_key(record.root_id.as_str()), "{} root unseen", record.id);
            }
            assert!(seen.insert(&record.id, &record.created_at).is_none(), "duplicate id {}", record.id);
        }
        assert_eq!(stream.truth.posts, stream.records.len() as u64);
    }

    #[test]
    fn planted_communities_talk_to_each_other_after_onset() {
        let stream = generate(&small());
        let authors: HashMap<&str, &str> =
            stream.records.iter().map(|record| (record.id.as_str(), record.author.as_deref().unwrap_or(""))).collect();
        for community in stream.truth.planted() {
            let members: HashSet<&str> = community.members.iter().map(String::as_str).collect();
            assert!((50..=100).contains(&members.len()), "{}: {} members", community.id, members.len());
            let in_channel: Vec<&ReplayRecord> =
                stream.records.iter().filter(|record| record.channel == community.channel).collect();
            assert!(in_channel.iter().all(|record| record.created_at >= community.onset));
            let replies: Vec<&&ReplayRecord> = in_channel
                .iter()
                .filter(|record| {
                    !record.parent_id.is_empty() && members.contains(record.author.as_deref().unwrap_or(""))
                })
                .collect();
            let to_members = replies
                .iter()
                .filter(|record| members.contains(authors.get(record.parent_id.as_str()).copied().unwrap_or("")))
                .count();
            assert!(replies.len() > 200, "{}: {} replies", community.id, replies.len());
            // Telegram members also answer the channel's own posts.
            let floor = if community.platform == "telegram" { 0.3 } else { 0.9 };
            assert!(
                to_members as f64 >= floor * replies.len() as f64,
                "{}: {to_members}/{}",
                community.id,
                replies.len()
            );
        }
    }

    #[test]
    fn planted_terms_are_silent_before_onset_then_rise_with_many_authors() {
        let stream = generate(&small());
        for signal in &stream.truth.signals {
            let uses: Vec<&ReplayRecord> = stream
                .records
                .iter()
                .filter(|record| record.text.split_whitespace().any(|word| word == signal.term))
                .collect();
            assert!(uses.iter().all(|record| record.created_at >= signal.onset), "{} early", signal.term);
            let authors: HashSet<&str> = uses.iter().filter_map(|record| record.author.as_deref()).collect();
            assert!(
                uses.len() >= 20 && authors.len() >= 10,
                "{}: {} uses, {} authors",
                signal.term,
                uses.len(),
                authors.len()
            );
            let onset_ms = DateTime::parse_from_rfc3339(&signal.onset).unwrap().timestamp_millis();
            let hour_of = |record: &ReplayRecord| {
                (DateTime::parse_from_rfc3339(&record.created_at).unwrap().timestamp_millis() - onset_ms) / 3_600_000
            };
            let first = uses.iter().filter(|record| hour_of(record) == 0).count();
            let fourth = uses.iter().filter(|record| hour_of(record) == 4).count();
            assert!(fourth > 2 * first.max(1), "{}: {first} then {fourth}", signal.term);
        }
    }

    #[test]
    fn background_terms_keep_a_stable_volume() {
        let stream = generate(&small());
        let start = DateTime::parse_from_rfc3339(&stream.truth.start).unwrap().timestamp_millis();
        let crowd = stream.truth.community("technology").unwrap();
        let mut per_hour = vec![0usize; 30];
        for record in stream.records.iter().filter(|record| record.channel == crowd.channel) {
            let hour =
                (DateTime::parse_from_rfc3339(&record.created_at).unwrap().timestamp_millis() - start) / 3_600_000;
            per_hour[hour as usize] += record.text.split_whitespace().filter(|word| *word == "smartphone").count();
        }
        let early: usize = per_hour[..10].iter().sum();
        let late: usize = per_hour[20..].iter().sum();
        assert!(early > 20 && (late as f64) < 1.6 * early as f64 && (late as f64) > 0.6 * early as f64, "{per_hour:?}");
    }
}

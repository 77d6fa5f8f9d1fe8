"""Word tables for :mod:`panne.signals.social`: how people say "it's down" in five languages.

Kept apart from the matcher so that adding a phrase is a data change that reviewers can read at a
glance. Every pattern is a regular-expression fragment written lowercase and *before* folding:
the matcher folds it like a post (accents and Arabic hamza/ta marbuta dropped), so "caído" and
"caido", "مشكلة" and "مشكله" are the same entry. Use only lowercase regex escapes (``\\w``,
``\\s``): folding lowercases the pattern.
"""

from __future__ import annotations

from typing import Final, NamedTuple


class Phrase(NamedTuple):
    pattern: str
    lang: str
    weight: float  # how strongly it claims an outage; see social.SCORE_THRESHOLD
    kind: str  # "state" (negatable: "down"), "fail" (already negative: "not working"), "ask"


STRONG, MEDIUM, WEAK = 0.35, 0.25, 0.1


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


def _p(lang: str, weight: float, kind: str, *patterns: str) -> list[Phrase]:
    return [Phrase(p, lang, weight, kind) for p in patterns]


# fmt: off
OUTAGE_PHRASES: Final[list[Phrase]] = [
    # English
    *_p("en", STRONG, "state", "down", "outages?", "offline", "crash(?:ed|ing|es)?", "downtime",
        "unreachable", "unavailable", "went dark", "gone dark"),
    *_p(
        "en",
        STRONG,
        "fail",
        "not (?:working|loading|responding|opening|sending|connecting)",
        r"(?:is|are|was)n'?t (?:working|loading|responding|opening|sending|connecting)",
        "(?:does|did|do)(?:n'?t| not) (?:work|load|open|connect)",
        "stopped working",
        "(?:won'?t|wont|can'?t|cant|cannot) (?:load|open|connect|log ?in|sign ?in|send|refresh)",
        "(?:won'?t|wont) (?:let me|work)",
        "keeps? (?:crashing|logging me out)",
        "something went wrong",
        "server error",
        "(?:error )?50[234]",
        "broken",
        "is broke",
    ),
    *_p("en", MEDIUM, "ask", "is it (?:just|only) me", "just me or", "anyone else"),
    *_p("en", WEAK, "fail", "errors?", "glitch(?:ing|y)?", "bugg(?:ing|ed|y)", "lagg(?:ing|y)",
        "(?:having|any) (?:issues|problems|trouble)", "issues with", "problems with", "laggy"),
    # French
    *_p("fr", STRONG, "state", "en panne", "pannes?", "hors service", "hs", "hors ligne",
        "inaccessible", "plant(?:e|ee|ent|age)", "a plante", "dysfonctionnements?"),
    *_p("fr", STRONG, "fail", "(?:ne )?(?:marche|fonctionne|charge|repond)(?:nt)? (?:plus|pas)",
        "(?:ne )?m'?(?:affiche|ouvre|charge)(?:nt)? (?:plus|pas)",
        "impossible de (?:me |se |nous )?(?:connecter|charger|envoyer|ouvrir)",
        "(?:je )?n'?arrive (?:plus|pas) a", "bug(?:ue|ge|gue|gent)?", "beug(?:ue|e)?"),
    *_p("fr", MEDIUM, "ask", "(?:il )?y ?a que moi", "c'est (?:que )?moi ou", "pas que moi",
        "je suis (?:le|la) seule?"),
    *_p("fr", WEAK, "fail", "rame", "soucis?", "problemes?", "erreurs?", "lent"),
    # Spanish
    *_p("es", STRONG, "state", "caid[oa]s?", "se (?:cayo|cayeron|cae)", "colaps(?:ado|o)",
        "fuera de servicio", "sin servicio"),
    *_p("es", STRONG, "fail",
        "no (?:me )?(?:funciona|funcionan|anda|andan|carga|cargan|abre|abren|"
        "conecta|sirve|deja|entra)",
        "no puedo (?:entrar|acceder|conectarme|enviar|iniciar)", "dejo de funcionar", "fallando",
        "falla general", "bugueado"),
    *_p("es", MEDIUM, "ask", "(?:soy )?solo yo", "(?:es )?solo a mi", "a alguien mas",
        "a alguien (?:le|se le)"),
    *_p("es", WEAK, "fail", "fallas?", "problemas?", "lento"),
    # Portuguese
    *_p("pt", STRONG, "state", "caiu", "cairam", "caindo", "fora do ar", "saiu do ar", "ta fora",
        "esta fora", "instab(?:ilidade|ilidades|il)", "deu pau", "(?:ta|esta|ficou) off"),
    *_p("pt", STRONG, "fail",
        "(?:nao|n) (?:ta |esta |tá )?(?:funciona|funcionando|carrega|carregando|abre|abrindo|"
        "envia|enviando|conecta|conectando|entra)",
        "nao consigo (?:entrar|acessar|enviar|abrir)", "parou de funcionar", "parou",
        "trav(?:ou|ado|ada|ando)", "bug(?:ou|ado|ada|ando)"),
    *_p("pt", MEDIUM, "ask", "so (?:comigo|eu|aqui)", "mais alguem"),
    *_p("pt", WEAK, "fail", "problemas?", "erro", "lento"),
    # Arabic (dialects: Gulf, Levantine, Egyptian, Maghrebi; many spellings fold together)
    *_p("ar", STRONG, "state", "واقع", "واقعين", "طايح", "طاح", "داون", "عطل", "عطلان", "معطل",
        "معطلة", "تعطل", "تعطلت", "متعطل", "متعطلة", "متوقف", "متوقفة", "توقف", "واقف", "واقفة",
        "وقف", "انقطاع", "مقطوع", "خلل", "خربان"),
    *_p("ar", STRONG, "fail",
        "(?:لا|ما|مش|مو|مب) ?(?:يعمل|تعمل|يعملان|تعملان|يعملون|يشتغل|يشتغلوا|تشتغل|شغال|شغالة|"
        "يفتح|يحمل|يرسل|يستجيب|راضي يفتح)",
        "ما عاد يشتغل"),
    *_p("ar", MEDIUM, "ask", "عندي بس", "بس عندي", "عندي فقط", "عندكم كمان"),
    *_p("ar", WEAK, "fail", "مشكلة", "مشاكل", "بطيء", "علق", "معلق"),
]

# "down" is the word with most other meanings; these neighbours make it not an outage.
DOWN_NOT_AFTER: Final = _words(
    "bad badly to with under payment payments the a an low vote votes hill stairs "
    "syndrome for_a here there"
)
DOWN_NOT_BEFORE: Final = _words(
    "calm sit upside let lay look looking write wrote turn turned settle settled "
    "thumbs i'm im suis feel feeling felt am hunker step stepped cut track tracked "
    "narrow narrowed"
)
# An outage word right after these measures something else ("subscribers are down 3%").
METRIC_WORDS: Final = _words(
    "stock stocks share shares price prices revenue revenues subscribers followers "
    "views sales numbers ratings engagement productivity mood morale motivation "
    "grades battery usage profits profit traffic action actions accion acciones acao acoes "
    "bolsa prix precio precios preco precos"
)

# Negation of a "state" phrase when one of these is among the few words before it.
NEGATIONS: Final = _words(
    "not isn't isnt aren't arent wasn't wasnt ain't never no nothing nope pas "
    "jamais aucun aucune rien plus no nunca ningun ninguna tampoco ni nao nem nunca "
    "nenhum nenhuma مش مو ليس ليست مب ما مافي مافيه ابدا"
)
# Disbelief anywhere earlier in the clause: "I don't think facebook is down".
DOUBT_PATTERNS: Final = [
    "(?:i )?don'?t think", "i doubt", "je (?:ne )?pense pas", "je crois pas", "no creo",
    "nao acho", "acho que nao", "ما اظن", "لا اعتقد",
]
# Wishes and hypotheses, earlier in the same phrase: "I wish twitter would go down".
UNREAL_PATTERNS: Final = [
    "wish", "i hope", "hope(?:fully)? (?:it|they|that)", "imagine", "what if", "if only",
    "pray(?:ing)? (?:for|that)", "would be (?:nice|great|funny)", "can'?t wait (?:for|until)",
    "j'espere", "j'aimerais", "si seulement", "imaginez?", "vivement que", "pourvu que", "ojala",
    "espero que", "imagin(?:a|ate)", "tomara", "queria que", "يا ?ريت", "اتمنى", "نتمنى", "تخيل",
    "عسى",
]
# The past, anywhere in the clause: "remember when facebook was down for six hours".
PAST_PATTERNS: Final = [
    "remember when", "last (?:year|month|week)", "years ago", "in 20[12]\\d", "l'annee derniere",
    "el ano pasado", "ano passado", "السنه الماضيه", "العام الماضي",
]
# A clear joke marker anywhere in the clause (or in a clause after it that names no new
# service: "facebook is down!! jk") takes the claim back. Only *clear* markers: laughter
# ("lol", "mdr", "jajaja", "kkkk", "هههه", 😂) is as common in genuine complaints ("instagram
# caiu kkkkk", "X is down lol") as in jokes, so it blocks nothing; nor do exasperated
# questions that name a joke ("is this a joke?", "c'est une blague", "só pode ser brincadeira").
# A negated marker means "seriously" ("no jk, it's down", "je rigole pas"), so it does not count.
JOKE_PATTERNS: Final = [
    # English
    "(?<!no )(?<!not )(?:jk|j/k|jking)", "just (?:kidding|joking)", "only (?:kidding|joking)",
    "i'?m (?:just )?(?:kidding|joking)", "april fool'?s?", "/s",
    # French
    "je (?:rigole|plaisante|blague)(?! pas)", "poisson d'avril",
    # Spanish
    "(?<!no )era (?:broma|joda|coña)", "(?:solo )?(?:estoy )?bromeando", "inocente",
    # Portuguese
    "(?<!nao )(?:to|tou|tava|so|estou) (?:brincando|zoando)", "brincadeirinha",
    "primeiro de abril", "dia da mentira",
    # Arabic
    "(?<!مش )(?<!ما )(?:ب|ا)مزح", "بهزر", "كذبة (?:ابريل|نيسان)",
]
# The service is fine or back: the nearest cue to a service decides.
FINE_PATTERNS: Final = [
    "works?(?: fine| again| now)?", "working(?: fine| again| now)?", "fine", "ok", "okay", "is up",
    "back up", "back online", "is back", "up again", "fixed", "resolved", "restored",
    "(?:re)?marche(?: bien)?", "(?:re)?fonctionne", "de retour", "nickel", "funciona(?: bien)?",
    "volvio", "ya anda", "funcionando", "normal", "voltou", "normalizou", "de boa", "شغال",
    "يشتغل", "يعمل", "تمام", "رجع", "اشتغل", "طبيعي",
]

# Aliases that are also everyday words: they need an outage phrase close by, and are refused
# when one of their listed neighbours is within two words ("Amazon rainforest").
AMBIGUOUS: Final[dict[str, frozenset[str]]] = {
    k: frozenset(v.split())
    for k, v in {
        "amazon": "rainforest forest river jungle basin tribe tribes fires deforestation",
        "signal": "strength bars cell phone wifi weak lost no 4g 5g lte traffic turn flare "
        "reception sinal senal",
        "steam": "kettle iron shower engine room full off coming rising hot pressure train "
        "punk vapor",
        "threads": "shirt needle sewing thread loose count cotton fabric sweater comment",
        "teams": "game won lost both sports league nba nfl football playoff playoffs match "
        "scored score",
        "discord": "family amid sow sowing marital political",
        "zoom": "in out camera lens lenses",
        "slack": "cut pick some off rope",
        "drive": "hard usb car test long thru road",
        "meet": "nice let's lets up to",
        "office": "post home hours the at back",
        "prime": "minister time number numbers example",
        "echo": "chamber",
        "origin": "country of",
        "league": "premier champions out",
        "line": "phone power landline fiber finish waiting hold in long punch",
        "blizzard": "snow storm winter",
        "tumbler": "glass coffee",
        "gemini": "zodiac horoscope sign",
        "claude": "monet uncle",
    }.items()
}
# Aliases so common as words that only "<alias> is down" counts (aliases of one or two letters
# are treated so too, except those listed in CLEAR_SHORT).
SUBJECT_ONLY: Final = _words(
    "lol face pin snap whats telegrama ps4 ps5 switch online line egs nso bnet echo "
    "origin office prime meet drive league"
)
CLEAR_SHORT: Final = _words("fb yt ig")
# Words that join two subjects of one claim ("face e zap fora do ar"): a subject-only alias
# still counts across the other name when one of these is between them, not otherwise
# ("lol discord down again" is about Discord).
CONJUNCTIONS: Final = _words("and & + / e et y ou or")
# Ambiguous aliases without a neighbour list: they need an outage phrase close by.
for _alias in ("ig", "zap", "فيس", "لاين", "masto", "tumbler", "blizzard"):
    AMBIGUOUS.setdefault(_alias, frozenset())

# Hashtags glue the service and the claim: #instagramdown, #whatsappcaido, #فيسبوك_واقع.
HASHTAG_SUFFIXES: Final = (
    "down",
    "isdown",
    "outage",
    "offline",
    "notworking",
    "panne",
    "enpanne",
    "hs",
    "caido",
    "caida",
    "secayo",
    "caiu",
    "foradoar",
    "off",
    "واقع",
    "معطل",
    "عطل",
    "داون",
)

# fmt: on

# Set phrases that contain an outage word and mean something else.
IDIOMS: Final = [
    "caiu a ficha",
    "caiu como uma luva",
    "me caiu",
    "se me cayo",
    "caido del cielo",
    "down to earth",
    "down the line",
    "en panne d'inspiration",
    "en panne de sommeil",
    "crash course",
    "crash out",
]
# Hashtags that put the claim first: #panneinstagram, #caiuozap.
HASHTAG_PREFIXES: Final = ("panne", "down", "caida", "caiu", "caiuo", "outage")

# Words that hint at a language when no phrase or hint decides.
LANGUAGE_WORDS: Final[dict[str, frozenset[str]]] = {
    "en": _words("the is it and for me my not anyone just this of to with why again what are was"),
    "fr": _words(
        "le les est ne pas des et je c'est ca qui sur moi encore chez vous tout toujours aussi"
    ),
    "es": _words("el los las es esta se me por para mi otra vez alguien hoy ya y del tambien pasa"),
    "pt": _words(
        "o os e do da nao ta pra meu minha alguem hoje so voce tambem ja mais aqui de novo"
    ),
}

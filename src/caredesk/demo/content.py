"""Demo workspace content for caredesk.

A fictional brand, "Nordlys Mobile", a mobile and broadband operator that
also sells phones online. Every name, handle, order number and phone number
below is invented for the demo. Phone numbers use fictional ranges
(555-01xx, +45 20 00 00 xx) and e-mail addresses use the reserved
example.com / example.net / example.org domains.
"""

from typing import Any, Final, TypedDict


class DemoAgent(TypedDict):
    key: str
    name: str
    email: str
    signature: str
    languages: list[str]
    role: str
    team: str


class DemoChannel(TypedDict):
    key: str
    name: str
    public: bool


class DemoMessage(TypedDict):
    direction: str
    minutes_ago: int
    text: str
    agent: str | None


class DemoConversation(TypedDict):
    channel: str
    language: str
    customer_name: str
    customer_handle: str
    public: bool
    status: str
    tags: list[str]
    messages: list[DemoMessage]


WORKSPACE_SLUG: Final[str] = "nordlys"
WORKSPACE_NAME: Final[str] = "Nordlys Mobile"
WORKSPACE_TIMEZONE: Final[str] = "Europe/Copenhagen"

TEAMS: Final[dict[str, str]] = {
    "care": "Customer care",
    "tech": "Technical support",
    "ops": "Operations",
}

AGENTS: Final[list[DemoAgent]] = [
    {
        "key": "mikkel",
        "name": "Mikkel Holm",
        "email": "mikkel@nordlys.example",
        "signature": "MH",
        "languages": ["da", "en", "de"],
        "role": "admin",
        "team": "ops",
    },
    {
        "key": "claire",
        "name": "Claire Knudsen",
        "email": "claire@nordlys.example",
        "signature": "CK",
        "languages": ["en", "da", "fr"],
        "role": "supervisor",
        "team": "care",
    },
    {
        "key": "wei",
        "name": "Wei Chen",
        "email": "wei@nordlys.example",
        "signature": "WC",
        "languages": ["zh", "en"],
        "role": "agent",
        "team": "care",
    },
    {
        "key": "noa",
        "name": "Noa Levi",
        "email": "noa@nordlys.example",
        "signature": "NL",
        "languages": ["he", "en"],
        "role": "agent",
        "team": "care",
    },
    {
        "key": "lucia",
        "name": "Lucía Ortega",
        "email": "lucia@nordlys.example",
        "signature": "LO",
        "languages": ["es", "en", "fr"],
        "role": "agent",
        "team": "care",
    },
    {
        "key": "jonas",
        "name": "Jonas Becker",
        "email": "jonas@nordlys.example",
        "signature": "JB",
        "languages": ["de", "da", "en"],
        "role": "agent",
        "team": "tech",
    },
]

CHANNELS: Final[list[DemoChannel]] = [
    {"key": "chat", "name": "Web chat", "public": False},
    {"key": "social", "name": "Social (public posts and DMs)", "public": True},
    {"key": "email", "name": "Support email", "public": False},
]

CONVERSATIONS: Final[list[DemoConversation]] = [
    # ------------------------------------------------------------------
    # English
    # ------------------------------------------------------------------
    {
        "channel": "chat",
        "language": "en",
        "customer_name": "Tom Whitaker",
        "customer_handle": "tom.whitaker",
        "public": False,
        "status": "open",
        "tags": ["outage"],
        "messages": [
            {
                "direction": "in",
                "minutes_ago": 42,
                "text": "Is the network down in Aarhus C? No signal on my phone since about 9, and the home broadband keeps dropping too.",
                "agent": None,
            },
            {
                "direction": "in",
                "minutes_ago": 35,
                "text": "Just restarted the phone and the router. Still nothing. I work from home, so this is a real problem.",
                "agent": None,
            },
        ],
    },
    {
        "channel": "email",
        "language": "en",
        "customer_name": "Margaret Doyle",
        "customer_handle": "margaret.doyle@example.com",
        "public": False,
        "status": "open",
        "tags": ["billing", "churn-risk"],
        "messages": [
            {
                "direction": "in",
                "minutes_ago": 1440,
                "text": "You have charged me 649 kr this month instead of the 199 kr I signed up for. Nobody told me about any price change. Explain this now.",
                "agent": None,
            },
            {
                "direction": "out",
                "minutes_ago": 1380,
                "text": "Hi Margaret, I'm sorry for the surprise on your bill. I can see extra data packs were added on the 3rd. I'm checking whether they were added by mistake and will get back to you today. ^CK",
                "agent": "claire",
            },
            {
                "direction": "in",
                "minutes_ago": 300,
                "text": "It's been almost a day. If this isn't refunded by Friday I'm porting my number to another provider. Three years as a customer and this is how you treat me.",
                "agent": None,
            },
        ],
    },
    {
        "channel": "chat",
        "language": "en",
        "customer_name": "Daniel Okafor",
        "customer_handle": "d.okafor",
        "public": False,
        "status": "open",
        "tags": ["delivery", "bump"],
        "messages": [
            {
                "direction": "in",
                "minutes_ago": 2900,
                "text": "Hi, my order NM-48213 was supposed to arrive yesterday. Tracking hasn't moved in 3 days. Can someone check?",
                "agent": None,
            },
            {
                "direction": "in",
                "minutes_ago": 1500,
                "text": "Hello? Still waiting to hear back about my order.",
                "agent": None,
            },
            {
                "direction": "in",
                "minutes_ago": 95,
                "text": "Third time asking. Is anyone actually reading these? 😤",
                "agent": None,
            },
        ],
    },
    {
        "channel": "email",
        "language": "en",
        "customer_name": "Oliver Grant",
        "customer_handle": "oliver.grant@example.net",
        "public": False,
        "status": "resolved",
        "tags": ["login", "account"],
        "messages": [
            {
                "direction": "in",
                "minutes_ago": 3900,
                "text": "I can't log in to My Nordlys. It says my password is wrong, and the reset email never arrives.",
                "agent": None,
            },
            {
                "direction": "out",
                "minutes_ago": 3820,
                "text": "Hi Oliver, thanks for flagging this. Your reset emails were bouncing because of a typo in the address on file. I've corrected it, so please try the reset link again. ^MH",
                "agent": "mikkel",
            },
            {
                "direction": "in",
                "minutes_ago": 3700,
                "text": "That worked, I'm in. Thanks for the quick fix.",
                "agent": None,
            },
            {
                "direction": "out",
                "minutes_ago": 3690,
                "text": "Great to hear! Have a good day. ^MH",
                "agent": "mikkel",
            },
        ],
    },
    {
        "channel": "email",
        "language": "en",
        "customer_name": "Oliver Grant",
        "customer_handle": "oliver.grant@example.net",
        "public": False,
        "status": "open",
        "tags": ["refund", "return"],
        "messages": [
            {
                "direction": "in",
                "minutes_ago": 180,
                "text": "Hi again, Oliver here. I sent back the headphones from my last order two weeks ago but haven't seen a refund yet. Could you take a look?",
                "agent": None,
            },
        ],
    },
    {
        "channel": "chat",
        "language": "en",
        "customer_name": "Priya Sharma",
        "customer_handle": "priya.s",
        "public": False,
        "status": "resolved",
        "tags": ["praise", "5g"],
        "messages": [
            {
                "direction": "in",
                "minutes_ago": 2600,
                "text": "Just wanted to say the new 5G coverage in Odense is amazing. Streaming on the train with zero buffering 🙌",
                "agent": None,
            },
            {
                "direction": "out",
                "minutes_ago": 2560,
                "text": "Thank you Priya, that made our day! I'll pass it on to the network team, they'll be thrilled. ^CK",
                "agent": "claire",
            },
        ],
    },
    {
        "channel": "chat",
        "language": "en",
        "customer_name": "Ryan Brooks",
        "customer_handle": "ryanb_cph",
        "public": False,
        "status": "open",
        "tags": ["sim", "privacy"],
        "messages": [
            {
                "direction": "in",
                "minutes_ago": 60,
                "text": "My SIM stopped working after I swapped phones. My number is +45 20 00 00 17, can you reset it?",
                "agent": None,
            },
            {
                "direction": "out",
                "minutes_ago": 55,
                "text": "Hi Ryan, I can help. For your privacy please don't post your number in chat; I've masked it. Could you tell me the last 4 digits of the long number printed on the SIM card? ^LO",
                "agent": "lucia",
            },
            {
                "direction": "in",
                "minutes_ago": 48,
                "text": "Oh, sorry! The card number ends in 4471.",
                "agent": None,
            },
        ],
    },
    {
        "channel": "email",
        "language": "en",
        "customer_name": "Helen Carter",
        "customer_handle": "helen.carter@example.org",
        "public": False,
        "status": "pending",
        "tags": ["cancellation", "broadband"],
        "messages": [
            {
                "direction": "in",
                "minutes_ago": 3100,
                "text": "I'm moving abroad next month and need to cancel my broadband. What's the notice period, and do I need to return the router?",
                "agent": None,
            },
            {
                "direction": "out",
                "minutes_ago": 3000,
                "text": "Hi Helen, the notice period is one month from the end of the current billing period. Yes, please return the router with the prepaid label I've attached. Which date would you like the service to end? ^CK",
                "agent": "claire",
            },
        ],
    },
    {
        "channel": "chat",
        "language": "en",
        "customer_name": "Sam Patel",
        "customer_handle": "sam.patel",
        "public": False,
        "status": "open",
        "tags": ["product", "esim"],
        "messages": [
            {
                "direction": "in",
                "minutes_ago": 25,
                "text": "Hello! Does the Aurora X2 support eSIM, and can I use it with your prepaid plan? Thanks in advance.",
                "agent": None,
            },
        ],
    },
    {
        "channel": "email",
        "language": "en",
        "customer_name": "Grace Liu",
        "customer_handle": "grace.liu@example.com",
        "public": False,
        "status": "snoozed",
        "tags": ["technical", "warranty"],
        "messages": [
            {
                "direction": "in",
                "minutes_ago": 3500,
                "text": "The Aurora X2 I bought from you in March has a flickering screen. It's still under warranty, right?",
                "agent": None,
            },
            {
                "direction": "out",
                "minutes_ago": 3400,
                "text": "Hi Grace, yes, it's covered. I've booked a repair pickup for Thursday between 10 and 14. The courier will bring a box for the phone. ^JB",
                "agent": "jonas",
            },
            {
                "direction": "in",
                "minutes_ago": 3300,
                "text": "Thanks. How long will the repair take?",
                "agent": None,
            },
            {
                "direction": "out",
                "minutes_ago": 3250,
                "text": "Usually 5-7 working days. I'll check in with you again once the workshop confirms they've received it. ^JB",
                "agent": "jonas",
            },
        ],
    },
    {
        "channel": "chat",
        "language": "en",
        "customer_name": "Mark Sullivan",
        "customer_handle": "msullivan",
        "public": False,
        "status": "open",
        "tags": ["outage", "broadband", "churn-risk"],
        "messages": [
            {
                "direction": "in",
                "minutes_ago": 12,
                "text": "THIRD outage this week!!! I pay for 1000 Mbit and I'm getting nothing. Fix it or I'm off to another provider by Monday.",
                "agent": None,
            },
        ],
    },
    {
        "channel": "email",
        "language": "en",
        "customer_name": "Aisha Bello",
        "customer_handle": "aisha.bello@example.net",
        "public": False,
        "status": "resolved",
        "tags": ["refund", "billing"],
        "messages": [
            {
                "direction": "in",
                "minutes_ago": 2200,
                "text": "I was charged twice for my order NM-50377. Please refund the duplicate payment.",
                "agent": None,
            },
            {
                "direction": "out",
                "minutes_ago": 2100,
                "text": "Hi Aisha, you're right, the payment went through twice. I've refunded the duplicate and you'll see it within 3-5 banking days. Sorry for the hassle! ^MH",
                "agent": "mikkel",
            },
            {
                "direction": "in",
                "minutes_ago": 2050,
                "text": "Got the confirmation email. Thanks!",
                "agent": None,
            },
        ],
    },
    {
        "channel": "chat",
        "language": "en",
        "customer_name": "Lucy Evans",
        "customer_handle": "lucy.evans",
        "public": False,
        "status": "pending",
        "tags": ["billing", "roaming"],
        "messages": [
            {
                "direction": "in",
                "minutes_ago": 1000,
                "text": "I was in Norway last weekend and got a roaming charge of 320 kr. I thought Norway was included?",
                "agent": None,
            },
            {
                "direction": "out",
                "minutes_ago": 960,
                "text": "Hi Lucy, Norway is included in your plan, so that charge looks wrong. I've asked billing to credit it and will update you as soon as they confirm. ^CK",
                "agent": "claire",
            },
        ],
    },
    {
        "channel": "chat",
        "language": "en",
        "customer_name": "Jack Murphy",
        "customer_handle": "jackm",
        "public": False,
        "status": "open",
        "tags": ["delivery", "product"],
        "messages": [
            {
                "direction": "in",
                "minutes_ago": 7,
                "text": "hey, ordered the charging dock yesterday 🔌 any chance it ships before the weekend?",
                "agent": None,
            },
        ],
    },
    {
        "channel": "email",
        "language": "en",
        "customer_name": "Ethan Cole",
        "customer_handle": "ethan.cole@example.org",
        "public": False,
        "status": "resolved",
        "tags": ["technical", "broadband"],
        "messages": [
            {
                "direction": "in",
                "minutes_ago": 1800,
                "text": "My Wi-Fi keeps disconnecting every evening around 20:00. The router is the white Nordlys Home box.",
                "agent": None,
            },
            {
                "direction": "out",
                "minutes_ago": 1720,
                "text": "Hi Ethan, that sounds like a crowded Wi-Fi channel. I've pushed a firmware update and moved your router to a quieter 5 GHz channel. Let me know how tonight goes. ^JB",
                "agent": "jonas",
            },
            {
                "direction": "in",
                "minutes_ago": 240,
                "text": "Rock solid all evening. Thank you!",
                "agent": None,
            },
            {
                "direction": "out",
                "minutes_ago": 230,
                "text": "Brilliant, glad it's sorted. I'll close this, but just reply here if it acts up again. ^JB",
                "agent": "jonas",
            },
        ],
    },
    {
        "channel": "chat",
        "language": "en",
        "customer_name": "Chloe Bennett",
        "customer_handle": "chloe.bennett",
        "public": False,
        "status": "resolved",
        "tags": ["porting", "product"],
        "messages": [
            {
                "direction": "in",
                "minutes_ago": 1250,
                "text": "Quick question: can I keep my current number if I switch to you from another provider?",
                "agent": None,
            },
            {
                "direction": "out",
                "minutes_ago": 1230,
                "text": "Hi Chloe, absolutely! Choose 'Keep my number' at checkout and we handle the transfer for you. It usually takes 1-2 working days. ^LO",
                "agent": "lucia",
            },
            {"direction": "in", "minutes_ago": 1200, "text": "Perfect, ordering now 😊", "agent": None},
            {"direction": "out", "minutes_ago": 1195, "text": "Welcome aboard, Chloe! ^LO", "agent": "lucia"},
        ],
    },
    # ------------------------------------------------------------------
    # Danish
    # ------------------------------------------------------------------
    {
        "channel": "chat",
        "language": "da",
        "customer_name": "Freja Mortensen",
        "customer_handle": "freja.mortensen",
        "public": False,
        "status": "resolved",
        "tags": ["billing"],
        "messages": [
            {
                "direction": "in",
                "minutes_ago": 3600,
                "text": "Hej, jeg kan se, at min regning er steget med 50 kr. Hvorfor?",
                "agent": None,
            },
            {
                "direction": "out",
                "minutes_ago": 3560,
                "text": "Hej Freja, prisen på dit abonnement blev justeret 1. marts, og du fik besked på mail i januar. Jeg har givet dig 50 kr i rabat de næste tre måneder som tak for din tålmodighed. ^CK",
                "agent": "claire",
            },
            {"direction": "in", "minutes_ago": 3500, "text": "Det er pænt af jer, tak!", "agent": None},
        ],
    },
    {
        "channel": "chat",
        "language": "da",
        "customer_name": "Freja Mortensen",
        "customer_handle": "freja.mortensen",
        "public": False,
        "status": "open",
        "tags": ["delivery"],
        "messages": [
            {
                "direction": "in",
                "minutes_ago": 30,
                "text": "Hej igen! Jeg har bestilt en ny telefon til min søn, ordre NM-51902. Kan I se, hvornår den bliver leveret?",
                "agent": None,
            },
            {
                "direction": "in",
                "minutes_ago": 22,
                "text": "Ups, nok ikke så smart at skrive ordrenummeret herinde 🙈 men nu står det der",
                "agent": None,
            },
        ],
    },
    {
        "channel": "email",
        "language": "da",
        "customer_name": "Lars Pedersen",
        "customer_handle": "lars.pedersen@example.com",
        "public": False,
        "status": "open",
        "tags": ["technical", "broadband", "churn-risk"],
        "messages": [
            {
                "direction": "in",
                "minutes_ago": 700,
                "text": "Jeg har nu ringet tre gange om mit fibernet, der ikke virker. Hver gang får jeg at vide, at der kommer en tekniker. Der er ikke kommet nogen.",
                "agent": None,
            },
            {
                "direction": "out",
                "minutes_ago": 650,
                "text": "Hej Lars, det er ikke i orden, og jeg beklager. Jeg har eskaleret sagen, og en tekniker er bekræftet til i morgen mellem 8 og 12. Jeg følger selv op. ^JB",
                "agent": "jonas",
            },
            {
                "direction": "in",
                "minutes_ago": 120,
                "text": "Hvis han ikke dukker op i morgen, skifter jeg udbyder. Punktum.",
                "agent": None,
            },
        ],
    },
    {
        "channel": "chat",
        "language": "da",
        "customer_name": "Mette Sørensen",
        "customer_handle": "mette.s",
        "public": False,
        "status": "open",
        "tags": ["outage"],
        "messages": [
            {
                "direction": "in",
                "minutes_ago": 15,
                "text": "Er der nedbrud på mobilnettet i Aalborg? Ingen dækning her i Vestbyen siden frokost.",
                "agent": None,
            },
        ],
    },
    {
        "channel": "chat",
        "language": "da",
        "customer_name": "Søren Nielsen",
        "customer_handle": "soeren.n",
        "public": False,
        "status": "resolved",
        "tags": ["praise", "porting"],
        "messages": [
            {
                "direction": "in",
                "minutes_ago": 2400,
                "text": "Vil bare sige tak til Mikkel, som hjalp mig med at flytte mit nummer i går. Super service! 👍",
                "agent": None,
            },
            {
                "direction": "out",
                "minutes_ago": 2380,
                "text": "Tusind tak, Søren! Det er dejligt at høre. Hav en god dag. ^MH",
                "agent": "mikkel",
            },
        ],
    },
    {
        "channel": "email",
        "language": "da",
        "customer_name": "Ida Christensen",
        "customer_handle": "ida.christensen@example.org",
        "public": False,
        "status": "pending",
        "tags": ["return", "refund"],
        "messages": [
            {
                "direction": "in",
                "minutes_ago": 1900,
                "text": "Jeg vil gerne returnere den telefon, jeg købte for en uge siden. Den ligger stadig i æsken. Hvordan gør jeg?",
                "agent": None,
            },
            {
                "direction": "out",
                "minutes_ago": 1850,
                "text": "Hej Ida, du har 14 dages fortrydelsesret. Jeg har sendt dig en returlabel på mail. Når vi har modtaget pakken, refunderer vi beløbet inden for 5 hverdage. Sig til, hvis labelen ikke er kommet. ^CK",
                "agent": "claire",
            },
        ],
    },
    {
        "channel": "chat",
        "language": "da",
        "customer_name": "Rasmus Andersen",
        "customer_handle": "rasmus.a",
        "public": False,
        "status": "open",
        "tags": ["login", "app"],
        "messages": [
            {
                "direction": "in",
                "minutes_ago": 240,
                "text": "Jeg kan ikke logge ind i appen. Den skriver bare 'Noget gik galt'. Har prøvet at geninstallere den.",
                "agent": None,
            },
        ],
    },
    {
        "channel": "email",
        "language": "da",
        "customer_name": "Anne Larsen",
        "customer_handle": "anne.larsen@example.net",
        "public": False,
        "status": "snoozed",
        "tags": ["cancellation", "porting"],
        "messages": [
            {
                "direction": "in",
                "minutes_ago": 3300,
                "text": "Jeg vil gerne opsige mit abonnement, da jeg får en firmatelefon. Hvad skal jeg gøre?",
                "agent": None,
            },
            {
                "direction": "out",
                "minutes_ago": 3200,
                "text": "Hej Anne, jeg har registreret din opsigelse til udgangen af næste måned. Vil du beholde dit nummer, skal din nye udbyder bestille nummerflytning inden da. ^MH",
                "agent": "mikkel",
            },
            {
                "direction": "in",
                "minutes_ago": 3100,
                "text": "Tak. Jeg vender tilbage, når jeg ved, om firmaet vil overtage nummeret.",
                "agent": None,
            },
        ],
    },
    {
        "channel": "chat",
        "language": "da",
        "customer_name": "Emil Poulsen",
        "customer_handle": "emil.poulsen",
        "public": False,
        "status": "open",
        "tags": ["roaming", "product", "bump"],
        "messages": [
            {
                "direction": "in",
                "minutes_ago": 1300,
                "text": "Hej, hvad koster det at tilkøbe ekstra data i udlandet? Skal til USA i næste uge.",
                "agent": None,
            },
            {
                "direction": "in",
                "minutes_ago": 400,
                "text": "Hallo? Jeg rejser på søndag, så jeg vil gerne have et svar snart 🙂",
                "agent": None,
            },
        ],
    },
    {
        "channel": "chat",
        "language": "da",
        "customer_name": "Camilla Hansen",
        "customer_handle": "camilla.h",
        "public": False,
        "status": "pending",
        "tags": ["technical"],
        "messages": [
            {
                "direction": "in",
                "minutes_ago": 90,
                "text": "Min nye telefon lader kun op, når den er slukket. Er den defekt?",
                "agent": None,
            },
            {
                "direction": "out",
                "minutes_ago": 80,
                "text": "Hej Camilla, det lyder underligt. Prøv et andet kabel, og tjek under Indstillinger > Batteri, om 'Optimeret opladning' er slået til. Hvad sker der så? ^JB",
                "agent": "jonas",
            },
        ],
    },
    {
        "channel": "email",
        "language": "da",
        "customer_name": "Mads Jakobsen",
        "customer_handle": "mads.jakobsen@example.com",
        "public": False,
        "status": "resolved",
        "tags": ["delivery"],
        "messages": [
            {
                "direction": "in",
                "minutes_ago": 2900,
                "text": "Min pakke med ordre NM-47301 er sendt til den forkerte pakkeshop. Kan I ændre det?",
                "agent": None,
            },
            {
                "direction": "out",
                "minutes_ago": 2850,
                "text": "Hej Mads, jeg har bedt fragtfirmaet om at sende pakken videre til den pakkeshop på Østerbrogade, du valgte. Du får en sms, når den er klar til afhentning. ^CK",
                "agent": "claire",
            },
            {
                "direction": "in",
                "minutes_ago": 1500,
                "text": "Den er hentet. Tak for hjælpen!",
                "agent": None,
            },
        ],
    },
    # ------------------------------------------------------------------
    # Chinese (Simplified)
    # ------------------------------------------------------------------
    {
        "channel": "social",
        "language": "zh",
        "customer_name": "李娜",
        "customer_handle": "wxid_lina2024",
        "public": True,
        "status": "open",
        "tags": ["delivery"],
        "messages": [
            {
                "direction": "in",
                "minutes_ago": 50,
                "text": "你好，我上周在官网订的手机还没到，订单号 NM-49120，能帮我查一下吗？",
                "agent": None,
            },
        ],
    },
    {
        "channel": "social",
        "language": "zh",
        "customer_name": "王磊",
        "customer_handle": "wxid_wanglei_dk",
        "public": False,
        "status": "resolved",
        "tags": ["praise", "roaming"],
        "messages": [
            {
                "direction": "in",
                "minutes_ago": 2700,
                "text": "谢谢你们的客服小陈，昨天帮我开通了国际漫游，在上海用得很顺利！👍",
                "agent": None,
            },
            {
                "direction": "out",
                "minutes_ago": 2680,
                "text": "王先生您好，非常感谢您的肯定！祝您旅途愉快，有任何问题随时联系我们。^WC",
                "agent": "wei",
            },
        ],
    },
    {
        "channel": "social",
        "language": "zh",
        "customer_name": "张伟",
        "customer_handle": "wxid_zhangwei88",
        "public": True,
        "status": "open",
        "tags": ["billing", "churn-risk"],
        "messages": [
            {
                "direction": "in",
                "minutes_ago": 900,
                "text": "这个月账单怎么多了300克朗？我根本没用那么多流量！",
                "agent": None,
            },
            {
                "direction": "out",
                "minutes_ago": 860,
                "text": "张先生您好，非常抱歉给您带来困扰。我查到您本月在境外使用了数据流量，正在核实是否按正确的套餐计费，今天内给您答复。^WC",
                "agent": "wei",
            },
            {
                "direction": "in",
                "minutes_ago": 100,
                "text": "都快一天了还没消息。再不解决我就换运营商了。",
                "agent": None,
            },
        ],
    },
    {
        "channel": "social",
        "language": "zh",
        "customer_name": "刘洋",
        "customer_handle": "wxid_liuyang_cph",
        "public": False,
        "status": "pending",
        "tags": ["login"],
        "messages": [
            {
                "direction": "in",
                "minutes_ago": 1600,
                "text": "我的账号登录不了，一直提示验证码错误。",
                "agent": None,
            },
            {
                "direction": "out",
                "minutes_ago": 1550,
                "text": "刘先生您好，我已为您重置了账号的验证设置。请退出应用后重新登录，并使用最新收到的验证码。如果还不行，请告诉我您看到的提示。^WC",
                "agent": "wei",
            },
        ],
    },
    {
        "channel": "social",
        "language": "zh",
        "customer_name": "陈静",
        "customer_handle": "wxid_chenjing",
        "public": True,
        "status": "open",
        "tags": ["outage", "broadband"],
        "messages": [
            {
                "direction": "in",
                "minutes_ago": 18,
                "text": "哥本哈根北桥区是不是断网了？家里的宽带从早上开始就连不上。",
                "agent": None,
            },
        ],
    },
    {
        "channel": "social",
        "language": "zh",
        "customer_name": "杨帆",
        "customer_handle": "wxid_yangfan",
        "public": False,
        "status": "resolved",
        "tags": ["refund", "return"],
        "messages": [
            {
                "direction": "in",
                "minutes_ago": 2000,
                "text": "我退回的耳机你们收到了吗？退款什么时候到账？",
                "agent": None,
            },
            {
                "direction": "out",
                "minutes_ago": 1950,
                "text": "杨女士您好，我们前天已收到您退回的耳机，退款已经处理，一般3到5个工作日到账。^WC",
                "agent": "wei",
            },
            {"direction": "in", "minutes_ago": 1900, "text": "好的，谢谢！", "agent": None},
        ],
    },
    {
        "channel": "email",
        "language": "zh",
        "customer_name": "赵敏",
        "customer_handle": "zhaomin@example.com",
        "public": False,
        "status": "open",
        "tags": ["technical", "warranty"],
        "messages": [
            {
                "direction": "in",
                "minutes_ago": 600,
                "text": "新买的 Aurora X2 手机经常自动重启，已经更新了系统还是一样，请问该怎么处理？",
                "agent": None,
            },
        ],
    },
    {
        "channel": "social",
        "language": "zh",
        "customer_name": "黄磊",
        "customer_handle": "wxid_huanglei",
        "public": True,
        "status": "snoozed",
        "tags": ["cancellation", "broadband"],
        "messages": [
            {
                "direction": "in",
                "minutes_ago": 3400,
                "text": "我下个月要回国了，想取消宽带合同，需要提前多久通知？",
                "agent": None,
            },
            {
                "direction": "out",
                "minutes_ago": 3350,
                "text": "黄先生您好，宽带合同需提前一个月通知。我已为您登记下月底终止服务，路由器请在终止后14天内寄回。您回国前我会再提醒您。^WC",
                "agent": "wei",
            },
        ],
    },
    {
        "channel": "social",
        "language": "zh",
        "customer_name": "周婷",
        "customer_handle": "wxid_zhouting",
        "public": False,
        "status": "open",
        "tags": ["sim", "privacy", "technical"],
        "messages": [
            {
                "direction": "in",
                "minutes_ago": 40,
                "text": "我的手机号 +45 20 00 00 42 收不到短信了，帮我看看是不是卡的问题？",
                "agent": None,
            },
            {
                "direction": "out",
                "minutes_ago": 35,
                "text": "周女士您好，为保护您的隐私，请不要在这里发送手机号码，我已帮您隐藏。请先重启手机，并检查短信中心号码设置。如果还不行请告诉我。^WC",
                "agent": "wei",
            },
            {"direction": "in", "minutes_ago": 20, "text": "重启了，还是收不到 😢", "agent": None},
        ],
    },
    {
        "channel": "social",
        "language": "zh",
        "customer_name": "吴昊",
        "customer_handle": "wxid_wuhao",
        "public": True,
        "status": "open",
        "tags": ["product", "5g", "bump"],
        "messages": [
            {
                "direction": "in",
                "minutes_ago": 2500,
                "text": "请问你们的5G套餐可以在两部手机上共享流量吗？",
                "agent": None,
            },
            {"direction": "in", "minutes_ago": 1200, "text": "有人在吗？还在等回复。", "agent": None},
        ],
    },
    {
        "channel": "social",
        "language": "zh",
        "customer_name": "孙悦",
        "customer_handle": "wxid_sunyue",
        "public": False,
        "status": "resolved",
        "tags": ["technical"],
        "messages": [
            {
                "direction": "in",
                "minutes_ago": 1350,
                "text": "手机热点开不了，提示“运营商不支持”，怎么办？",
                "agent": None,
            },
            {
                "direction": "out",
                "minutes_ago": 1300,
                "text": "孙女士您好，您的套餐之前没有开通热点功能，我已经为您免费开通了。请重启手机后再试一下。^WC",
                "agent": "wei",
            },
            {"direction": "in", "minutes_ago": 1280, "text": "可以了，太感谢了！🙏", "agent": None},
        ],
    },
    # ------------------------------------------------------------------
    # Hebrew
    # ------------------------------------------------------------------
    {
        "channel": "chat",
        "language": "he",
        "customer_name": "יוסי כהן",
        "customer_handle": "yossi.cohen",
        "public": False,
        "status": "open",
        "tags": ["outage"],
        "messages": [
            {
                "direction": "in",
                "minutes_ago": 28,
                "text": "יש תקלה ברשת באזור אודנסה? אין לי קליטה כבר שעתיים.",
                "agent": None,
            },
        ],
    },
    {
        "channel": "email",
        "language": "he",
        "customer_name": "מיכל לוי",
        "customer_handle": "michal.levi@example.com",
        "public": False,
        "status": "open",
        "tags": ["billing", "refund", "churn-risk"],
        "messages": [
            {
                "direction": "in",
                "minutes_ago": 1200,
                "text": "חויבתי פעמיים על אותו חודש! אני לקוחה כבר חמש שנים וזה לא מקובל.",
                "agent": None,
            },
            {
                "direction": "out",
                "minutes_ago": 1150,
                "text": "היי מיכל, אני מצטערת על הטעות. בדקתי ואכן היה חיוב כפול. העברתי בקשה לזיכוי מלא, והוא יופיע תוך 3-5 ימי עסקים. ^NL",
                "agent": "noa",
            },
            {
                "direction": "in",
                "minutes_ago": 200,
                "text": "עדיין לא ראיתי זיכוי. אם זה לא מסתדר עד סוף השבוע, אני עוברת לחברה אחרת.",
                "agent": None,
            },
        ],
    },
    {
        "channel": "chat",
        "language": "he",
        "customer_name": "דוד אברהם",
        "customer_handle": "david.avraham",
        "public": False,
        "status": "resolved",
        "tags": ["praise", "delivery"],
        "messages": [
            {
                "direction": "in",
                "minutes_ago": 2300,
                "text": "רציתי להגיד תודה על השירות המהיר. המשלוח הגיע יום לפני הזמן! 🎉",
                "agent": None,
            },
            {
                "direction": "out",
                "minutes_ago": 2280,
                "text": "תודה רבה דוד, שמחים לשמוע! תיהנה מהטלפון החדש. ^NL",
                "agent": "noa",
            },
        ],
    },
    {
        "channel": "chat",
        "language": "he",
        "customer_name": "שירה פרץ",
        "customer_handle": "shira.peretz",
        "public": False,
        "status": "open",
        "tags": ["delivery", "bump"],
        "messages": [
            {
                "direction": "in",
                "minutes_ago": 3000,
                "text": "הזמנתי טלפון לפני שבוע, הזמנה NM-47755, ועדיין לא קיבלתי מספר מעקב.",
                "agent": None,
            },
            {"direction": "in", "minutes_ago": 1700, "text": "שלום? מישהו יכול לבדוק?", "agent": None},
            {
                "direction": "in",
                "minutes_ago": 300,
                "text": "זו הפעם השלישית שאני כותבת. מאוד מאכזב.",
                "agent": None,
            },
        ],
    },
    {
        "channel": "email",
        "language": "he",
        "customer_name": "אבי מזרחי",
        "customer_handle": "avi.mizrahi@example.net",
        "public": False,
        "status": "pending",
        "tags": ["return", "refund"],
        "messages": [
            {
                "direction": "in",
                "minutes_ago": 2100,
                "text": "אני רוצה להחזיר את האוזניות שקניתי, הן לא מתאימות לי. איך עושים את זה?",
                "agent": None,
            },
            {
                "direction": "out",
                "minutes_ago": 2050,
                "text": "היי אבי, אפשר להחזיר תוך 14 יום מהקנייה. שלחתי לך במייל תווית החזרה. ברגע שהחבילה תגיע אלינו, נחזיר לך את הכסף. ^NL",
                "agent": "noa",
            },
        ],
    },
    {
        "channel": "chat",
        "language": "he",
        "customer_name": "רונית גולן",
        "customer_handle": "ronit.golan",
        "public": False,
        "status": "open",
        "tags": ["login", "account"],
        "messages": [
            {
                "direction": "in",
                "minutes_ago": 75,
                "text": "לא מצליחה להתחבר לאזור האישי. כתוב שהחשבון נעול.",
                "agent": None,
            },
        ],
    },
    {
        "channel": "chat",
        "language": "he",
        "customer_name": "עומר ביטון",
        "customer_handle": "omer.biton",
        "public": False,
        "status": "resolved",
        "tags": ["technical", "broadband"],
        "messages": [
            {
                "direction": "in",
                "minutes_ago": 1700,
                "text": "הראוטר מהבהב באדום ואין אינטרנט בבית.",
                "agent": None,
            },
            {
                "direction": "out",
                "minutes_ago": 1660,
                "text": "היי עומר, ביצעתי איפוס לראוטר מרחוק. תן לו חמש דקות לעלות ועדכן אותי אם הנורית ירוקה. ^NL",
                "agent": "noa",
            },
            {
                "direction": "in",
                "minutes_ago": 1640,
                "text": "עכשיו ירוק והאינטרנט חזר. תודה!",
                "agent": None,
            },
        ],
    },
    {
        "channel": "chat",
        "language": "he",
        "customer_name": "תמר שפירא",
        "customer_handle": "tamar.shapira",
        "public": False,
        "status": "open",
        "tags": ["porting", "privacy"],
        "messages": [
            {
                "direction": "in",
                "minutes_ago": 65,
                "text": "אני רוצה להעביר את המספר שלי אליכם: 555-0142. מה צריך לעשות?",
                "agent": None,
            },
            {
                "direction": "out",
                "minutes_ago": 60,
                "text": "היי תמר, כדי לשמור על הפרטיות שלך עדיף לא לשתף מספר טלפון בצ'אט, אז הסתרתי אותו. את הניוד אפשר להתחיל באתר דרך 'הצטרפות'. לשלוח לך קישור? ^NL",
                "agent": "noa",
            },
            {"direction": "in", "minutes_ago": 52, "text": "כן בבקשה, ותודה על ההסתרה 🙏", "agent": None},
        ],
    },
    {
        "channel": "email",
        "language": "he",
        "customer_name": "אלון דהן",
        "customer_handle": "alon.dahan@example.org",
        "public": False,
        "status": "snoozed",
        "tags": ["cancellation", "churn-risk"],
        "messages": [
            {
                "direction": "in",
                "minutes_ago": 3800,
                "text": "אני רוצה לבטל את המנוי, מצאתי חבילה זולה יותר אצל חברה אחרת.",
                "agent": None,
            },
            {
                "direction": "out",
                "minutes_ago": 3750,
                "text": "היי אלון, חבל לשמוע. לפני שאתה עובר, אני יכולה להציע לך 30% הנחה לשישה חודשים. רוצה לחשוב על זה? אחזור אליך בתחילת השבוע. ^NL",
                "agent": "noa",
            },
            {"direction": "in", "minutes_ago": 3600, "text": "אחשוב על זה ואעדכן.", "agent": None},
        ],
    },
    {
        "channel": "chat",
        "language": "he",
        "customer_name": "ליאור אזולאי",
        "customer_handle": "lior.azoulay",
        "public": False,
        "status": "open",
        "tags": ["product", "esim"],
        "messages": [
            {
                "direction": "in",
                "minutes_ago": 140,
                "text": "שאלה קטנה: האם ה-Aurora X2 תומך ב-eSIM כפול?",
                "agent": None,
            },
        ],
    },
    {
        "channel": "email",
        "language": "he",
        "customer_name": "רחל פרידמן",
        "customer_handle": "rachel.friedman@example.com",
        "public": False,
        "status": "resolved",
        "tags": ["billing"],
        "messages": [
            {
                "direction": "in",
                "minutes_ago": 2600,
                "text": 'קיבלתי חשבונית עם חיוב על שיחות לחו"ל, אבל לא התקשרתי לחו"ל בכלל.',
                "agent": None,
            },
            {
                "direction": "out",
                "minutes_ago": 2500,
                "text": "היי רחל, בדקתי ומדובר בשיחות למספר שירות שסווג בטעות כבינלאומי. ביטלתי את החיוב והוא יופיע כזיכוי בחשבונית הבאה. ^NL",
                "agent": "noa",
            },
            {"direction": "in", "minutes_ago": 2450, "text": "מעולה, תודה רבה על הבדיקה.", "agent": None},
        ],
    },
    # ------------------------------------------------------------------
    # Spanish
    # ------------------------------------------------------------------
    {
        "channel": "chat",
        "language": "es",
        "customer_name": "Javier Morales",
        "customer_handle": "javi.morales",
        "public": False,
        "status": "open",
        "tags": ["outage"],
        "messages": [
            {
                "direction": "in",
                "minutes_ago": 33,
                "text": "¿Hay una avería en Copenhague? No tengo datos móviles desde esta mañana 😩",
                "agent": None,
            },
        ],
    },
    {
        "channel": "email",
        "language": "es",
        "customer_name": "Carmen Ruiz",
        "customer_handle": "carmen.ruiz@example.com",
        "public": False,
        "status": "resolved",
        "tags": ["delivery"],
        "messages": [
            {
                "direction": "in",
                "minutes_ago": 2800,
                "text": "Hola, mi pedido NM-46650 aparece como entregado, pero no lo he recibido.",
                "agent": None,
            },
            {
                "direction": "out",
                "minutes_ago": 2700,
                "text": "Hola Carmen, lo siento mucho. He abierto una reclamación con la empresa de mensajería y te he enviado otro teléfono por envío urgente. Te llegará mañana. ^LO",
                "agent": "lucia",
            },
            {
                "direction": "in",
                "minutes_ago": 1300,
                "text": "¡Ya lo tengo! Muchas gracias por la rapidez.",
                "agent": None,
            },
        ],
    },
    {
        "channel": "chat",
        "language": "es",
        "customer_name": "Alejandro Gómez",
        "customer_handle": "alex.gomez",
        "public": False,
        "status": "open",
        "tags": ["billing", "cancellation", "churn-risk"],
        "messages": [
            {
                "direction": "in",
                "minutes_ago": 500,
                "text": "Me habéis cobrado una penalización por cancelar y nadie me avisó. Es una vergüenza.",
                "agent": None,
            },
            {
                "direction": "out",
                "minutes_ago": 460,
                "text": "Hola Alejandro, entiendo tu enfado. Estoy revisando tu contrato para comprobar si el cargo es correcto. Te respondo hoy mismo. ^LO",
                "agent": "lucia",
            },
            {
                "direction": "in",
                "minutes_ago": 110,
                "text": "Sigo esperando. Si no me lo devolvéis, pondré una reclamación formal.",
                "agent": None,
            },
        ],
    },
    {
        "channel": "chat",
        "language": "es",
        "customer_name": "Sofía Herrera",
        "customer_handle": "sofia.herrera",
        "public": False,
        "status": "pending",
        "tags": ["technical", "5g"],
        "messages": [
            {
                "direction": "in",
                "minutes_ago": 1100,
                "text": "Mi móvil no se conecta a la red 5G aunque tengo contratada la tarifa 5G.",
                "agent": None,
            },
            {
                "direction": "out",
                "minutes_ago": 1050,
                "text": "Hola Sofía, faltaba activar el 5G en tu línea y ya lo he hecho. Reinicia el móvil y confírmame si ves el icono 5G, por favor. ^LO",
                "agent": "lucia",
            },
        ],
    },
    {
        "channel": "email",
        "language": "es",
        "customer_name": "Diego Fernández",
        "customer_handle": "diego.fernandez@example.net",
        "public": False,
        "status": "open",
        "tags": ["product", "broadband"],
        "messages": [
            {
                "direction": "in",
                "minutes_ago": 380,
                "text": "Buenos días, ¿el router Nordlys Home es compatible con sistemas Wi-Fi mesh de otras marcas? Gracias.",
                "agent": None,
            },
        ],
    },
    # ------------------------------------------------------------------
    # German
    # ------------------------------------------------------------------
    {
        "channel": "email",
        "language": "de",
        "customer_name": "Stefan Müller",
        "customer_handle": "stefan.mueller@example.com",
        "public": False,
        "status": "open",
        "tags": ["delivery"],
        "messages": [
            {
                "direction": "in",
                "minutes_ago": 220,
                "text": "Guten Tag, meine Bestellung NM-50018 sollte gestern ankommen. Die Sendungsverfolgung zeigt seit Tagen nichts Neues.",
                "agent": None,
            },
        ],
    },
    {
        "channel": "chat",
        "language": "de",
        "customer_name": "Katrin Schneider",
        "customer_handle": "katrin.s",
        "public": False,
        "status": "resolved",
        "tags": ["login"],
        "messages": [
            {
                "direction": "in",
                "minutes_ago": 2500,
                "text": "Ich komme nicht mehr in mein Kundenkonto. Die SMS für die Zwei-Faktor-Anmeldung kommt nicht an.",
                "agent": None,
            },
            {
                "direction": "out",
                "minutes_ago": 2450,
                "text": "Hallo Katrin, ich habe die Zwei-Faktor-Einstellung zurückgesetzt. Bitte melde dich erneut an, dann wirst du durch die Einrichtung geführt. ^JB",
                "agent": "jonas",
            },
            {"direction": "in", "minutes_ago": 2400, "text": "Hat geklappt, danke schön!", "agent": None},
        ],
    },
    {
        "channel": "chat",
        "language": "de",
        "customer_name": "Thomas Weber",
        "customer_handle": "t.weber",
        "public": False,
        "status": "open",
        "tags": ["outage", "broadband", "churn-risk"],
        "messages": [
            {
                "direction": "in",
                "minutes_ago": 160,
                "text": "Schon wieder kein Internet! Das ist die dritte Störung diesen Monat. Ich zahle nicht für ein Produkt, das nicht funktioniert.",
                "agent": None,
            },
            {
                "direction": "out",
                "minutes_ago": 150,
                "text": "Hallo Herr Weber, das tut mir leid. In Ihrem Gebiet gibt es eine bekannte Störung, unsere Techniker sind vor Ort. Ich melde mich, sobald sie behoben ist, und prüfe eine Gutschrift. ^MH",
                "agent": "mikkel",
            },
            {
                "direction": "in",
                "minutes_ago": 45,
                "text": "Eine Gutschrift ist das Mindeste. Sonst kündige ich.",
                "agent": None,
            },
        ],
    },
    {
        "channel": "email",
        "language": "de",
        "customer_name": "Anna Fischer",
        "customer_handle": "anna.fischer@example.org",
        "public": False,
        "status": "pending",
        "tags": ["refund", "return"],
        "messages": [
            {
                "direction": "in",
                "minutes_ago": 1400,
                "text": "Ich habe das Ladegerät zurückgeschickt, aber noch keine Erstattung erhalten.",
                "agent": None,
            },
            {
                "direction": "out",
                "minutes_ago": 1350,
                "text": "Hallo Frau Fischer, das Paket ist bei uns eingegangen und wird gerade geprüft. Könnten Sie mir bitte die Rücksendenummer aus der Bestätigungsmail schicken? ^JB",
                "agent": "jonas",
            },
        ],
    },
    {
        "channel": "chat",
        "language": "de",
        "customer_name": "Lukas Wagner",
        "customer_handle": "lukas.w",
        "public": False,
        "status": "open",
        "tags": ["praise", "delivery"],
        "messages": [
            {
                "direction": "in",
                "minutes_ago": 2,
                "text": "Kurzes Lob: Das neue Handy kam heute, super verpackt und einen Tag früher als angekündigt 😊",
                "agent": None,
            },
        ],
    },
    # ------------------------------------------------------------------
    # French
    # ------------------------------------------------------------------
    {
        "channel": "email",
        "language": "fr",
        "customer_name": "Camille Martin",
        "customer_handle": "camille.martin@example.com",
        "public": False,
        "status": "open",
        "tags": ["billing"],
        "messages": [
            {
                "direction": "in",
                "minutes_ago": 440,
                "text": "Bonjour, je ne comprends pas les frais de 49 kr intitulés « service premium » sur ma facture. Je n'ai rien souscrit.",
                "agent": None,
            },
        ],
    },
    {
        "channel": "chat",
        "language": "fr",
        "customer_name": "Julien Bernard",
        "customer_handle": "julien.b",
        "public": False,
        "status": "resolved",
        "tags": ["praise"],
        "messages": [
            {
                "direction": "in",
                "minutes_ago": 3200,
                "text": "Merci pour votre aide hier, tout fonctionne parfaitement maintenant. Service au top ! 👏",
                "agent": None,
            },
            {
                "direction": "out",
                "minutes_ago": 3180,
                "text": "Merci beaucoup Julien, avec plaisir ! Bonne journée. ^CK",
                "agent": "claire",
            },
        ],
    },
    {
        "channel": "chat",
        "language": "fr",
        "customer_name": "Élodie Dubois",
        "customer_handle": "elodie.dubois",
        "public": False,
        "status": "open",
        "tags": ["sim", "technical", "bump"],
        "messages": [
            {
                "direction": "in",
                "minutes_ago": 2000,
                "text": "Mon téléphone affiche « Pas de SIM » depuis ce matin. Que dois-je faire ?",
                "agent": None,
            },
            {
                "direction": "in",
                "minutes_ago": 800,
                "text": "Bonjour ? Toujours pas de réponse, et toujours pas de réseau…",
                "agent": None,
            },
        ],
    },
    {
        "channel": "email",
        "language": "fr",
        "customer_name": "Nicolas Petit",
        "customer_handle": "nicolas.petit@example.net",
        "public": False,
        "status": "snoozed",
        "tags": ["delivery", "product"],
        "messages": [
            {
                "direction": "in",
                "minutes_ago": 3000,
                "text": "J'ai précommandé l'Aurora X3. Avez-vous une date de livraison ?",
                "agent": None,
            },
            {
                "direction": "out",
                "minutes_ago": 2950,
                "text": "Bonjour Nicolas, les premières livraisons sont prévues pour la fin du mois. Je reviens vers vous dès que le fabricant confirme la date d'expédition. ^LO",
                "agent": "lucia",
            },
        ],
    },
    {
        "channel": "chat",
        "language": "fr",
        "customer_name": "Sophie Laurent",
        "customer_handle": "sophie.laurent",
        "public": False,
        "status": "open",
        "tags": ["broadband", "churn-risk"],
        "messages": [
            {
                "direction": "in",
                "minutes_ago": 260,
                "text": "Trois semaines sans fibre, trois techniciens annoncés, aucun n'est venu. Je passe chez un autre opérateur.",
                "agent": None,
            },
            {
                "direction": "out",
                "minutes_ago": 250,
                "text": "Bonjour Sophie, je suis vraiment désolée. J'ai fait remonter votre dossier en priorité et je vous appelle aujourd'hui avant 17 h pour fixer un rendez-vous garanti. ^CK",
                "agent": "claire",
            },
        ],
    },
]

# The workflow settings of the demo workspace (demo/seed.py:workflow): the social channel's office hours,
# service levels, canned responses.
OFFICE_HOURS: Final[dict[str, Any]] = {
    "name": "Copenhagen office",
    "time_zone": WORKSPACE_TIMEZONE,
    "week": {
        **{d: [["08:00", "20:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
        "sat": [["10:00", "16:00"]],
    },
    "holiday_country": "DK",
}
SLA_POLICIES: Final[list[dict[str, Any]]] = [
    {"name": "Outages", "position": 1, "match": {"topics": ["outage"]}, "first_reply_minutes": 15,
     "next_reply_minutes": 30, "warn_before_minutes": 5, "escalation": {"raise_priority": 10}},
    {"name": "Public posts", "position": 2, "match": {"public": True}, "first_reply_minutes": 30,
     "next_reply_minutes": 60, "resolution_minutes": 24 * 60, "warn_before_minutes": 10},
    {"name": "Private messages", "position": 3, "first_reply_minutes": 60, "next_reply_minutes": 120,
     "resolution_minutes": 48 * 60, "warn_before_minutes": 15},
]  # fmt: skip
CANNED: Final[list[dict[str, Any]]] = [
    {
        "name": "Outage: we are on it", "shortcut": "outage", "folder": "Network", "topics": ["outage"],
        "texts": {
            "en": "Hi {customer.first_name}, sorry: there is a fault in your area and our engineers are on it. "
                  "Live status: {link.status}",
            "da": "Hej {customer.first_name}, beklager: der er en fejl i dit område, og vores teknikere arbejder "
                  "på den. Status: {link.status}",
        },
    },
    {
        "name": "Where is my order", "shortcut": "order", "folder": "Delivery", "topics": ["delivery"],
        "texts": {
            "en": "Hi {customer.first_name}, order {order.id} has left our warehouse; tracking: [[Tracking number]].",
            "da": "Hej {customer.first_name}, ordre {order.id} er sendt; sporing: [[Sporingsnummer]].",
        },
    },
    {
        "name": "Billing: checking your invoice", "shortcut": "bill", "folder": "Billing", "topics": ["billing"],
        "texts": {
            "en": "Hi {customer.first_name}, I am checking your invoice now and will write again within the hour.",
            "da": "Hej {customer.first_name}, jeg kigger på din regning nu og skriver igen inden for en time.",
        },
    },
    {
        "name": "Thanks", "shortcut": "thanks", "folder": "General", "topics": ["praise"],
        "texts": {"en": "Thank you, {customer.first_name}! That made our day.", "da": "Tusind tak, {customer.first_name}!"},
    },
]  # fmt: skip
STATUS_PAGE: Final[str] = "https://status.nordlys.example"

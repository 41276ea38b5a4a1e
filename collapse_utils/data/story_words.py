"""The words, templates and weights of the chapter's story language: data only.

The engine, :mod:`collapse_utils.data.story_grammar`, documents the template slots and builds ``DEFAULT_LEXICON`` from
these. Word lists are ordered by frequency: option ``r`` (0-based) of a list has probability proportional to
``(r + 1) ** -SETTINGS["zipf"]``. An event's ``weight`` is its relative weight among the events that may come next;
``follows`` names the events that may come right after it (absent: every event that ``opens``), ``opens=False`` keeps
it from starting the chain or following an event without ``follows``, and ``can_end=False`` keeps the story from
ending right after it.
"""

WORD_LISTS = {
    "girl_names": ("Lily", "Sue", "Mia", "Amy", "Lucy", "Anna", "Emma", "Sara", "Kate", "Zoe", "Ella", "Rose", "Ruby",
                   "Jane", "Molly", "Daisy", "Sophie", "Grace", "Chloe", "Nina", "Lisa", "Mary", "Julia", "Hannah",
                   "Kim"),
    "boy_names": ("Tom", "Ben", "Max", "Sam", "Tim", "Jack", "Leo", "Bob", "Jake", "Finn", "Joe", "Dan", "Alex", "Luke",
                  "Noah", "Oliver", "Henry", "Ryan", "Mark", "Kevin", "Billy", "Jimmy", "Peter", "Paul", "Timmy"),
    "animals": ("cat", "dog", "bunny", "bird", "bear", "duck", "frog", "mouse", "puppy", "fox", "lion", "pig", "horse",
                "sheep", "turtle"),
    "traits": ("little", "kind", "happy", "brave", "shy", "curious", "small", "funny", "good", "sweet", "smart",
               "silly"),
    "toys": ("ball", "kite", "doll", "car", "teddy", "book", "hat", "boat", "drum", "balloon", "truck", "train",
             "robot", "block", "bike", "puzzle", "crayon", "shell", "blanket", "wagon", "bucket", "whistle"),
    "colours": ("red", "blue", "big", "green", "yellow", "pink", "small", "shiny", "purple", "soft", "new", "white",
                "black", "brown"),
    "places": ("park", "garden", "beach", "forest", "lake", "farm", "zoo", "hill", "river", "pond", "store", "school",
               "playground", "meadow", "town", "library"),
    "feelings": ("happy", "excited", "proud", "tired", "surprised", "calm", "curious", "hungry", "sleepy", "silly"),
    "sads": ("sad", "scared", "lonely", "upset", "worried", "grumpy"),
    "joys": ("happy", "glad", "proud", "thankful", "cheerful", "joyful"),
    "spots": ("bed", "table", "tree", "chair", "rock", "bush", "sofa", "box", "bench", "basket"),
    "foods": ("cookie", "cake", "banana", "pie", "sandwich", "muffin", "carrot", "peach", "cupcake", "pear"),
    "games": ("tag", "catch", "house", "pretend", "chase", "hopscotch"),
    "parents": ("mom", "dad", "grandma", "grandpa", "sister", "brother"),
    "fixers": ("glue", "tape", "string", "care"),
    "weathers": ("rain", "snow"),
    "answers": ("Yes", "Sure", "Okay", "Thanks"),
    "moves": ("went", "ran", "walked", "hopped", "skipped", "raced"),
    "times": ("day", "morning", "afternoon", "evening"),
    "hows": ("happily", "quietly", "carefully", "slowly", "proudly", "gently"),
    "things": ("castle", "tower", "house", "fort", "bridge", "nest"),
    "materials": ("sand", "blocks", "sticks", "boxes", "stones", "leaves"),
    "tastes": ("yummy", "sweet", "warm", "big", "fresh", "tasty"),
}
"""The words of each list, most frequent first."""

OPENINGS = (
    "Once upon a time , there was a {trait} {kind} named {Name} .",
    "There was once a {trait} {kind} named {Name} .",
    "Long ago , there lived a {trait} {kind} named {Name} .",
    "In a small town , there lived a {trait} {kind} named {Name} .",
)
"""Templates of the first sentence (they introduce the hero)."""

SETUPS = (
    "{Name} had a {colour} {toy} .",
    "{He} loved {his} {colour} {toy} very much .",
    "Every day , {he} played with {his} {colour} {toy} .",
    "{His} favorite toy was a {colour} {toy} .",
)
"""Templates of the second sentence (they introduce the hero's toy)."""

EVENTS = (
    dict(key="go", text="One {time} , {who} {move} to the {place} with {his} {thetoy} .", weight=3.0),
    dict(key="play", text="{He} played {how} with {his} {thetoy} at the {place} .", weight=2.0),
    dict(key="meet", text="Then {who} saw a {adj} {fkind} named {Friend} .",
         weight=2.0, follows=("talk", "share", "build", "race")),
    dict(key="talk", text="\" Do you want to play with my {toy} ? \" {Name} asked {Friend} .",
         follows=("reply",), can_end=False),
    dict(key="reply", text="{Friend} said , \" {answer} , {Name} ! \"", opens=False),
    dict(key="share", text="{Name} and {Friend} played {game} at the {place} ."),
    dict(key="build", text="Together , {Name} and {Friend} built a {thing} out of {material} ."),
    dict(key="race", text="Before lunch , {Name} and {Friend} {move} to the {place} ."),
    dict(key="hug", text="With a smile , {Friend} gave {Name} a big hug ."),
    dict(key="lose", text="Suddenly , {who} could not find {his} {thetoy} !",
         weight=1.5, follows=("search", "cry", "find", "help"), can_end=False),
    dict(key="wind", text="A strong wind blew {his} {thetoy} into a {spot} !",
         follows=("cry", "help", "find"), can_end=False),
    dict(key="take", text="Just then , a {animal} came and took {his} {thetoy} !",
         follows=("search", "cry", "help"), can_end=False),
    dict(key="search", text="So {who} looked under the {spot} and behind the {spot} .",
         follows=("find", "cry", "help"), opens=False, can_end=False),
    dict(key="cry", text="Poor {Name} felt {sad} and began to cry .",
         follows=("search", "find", "help"), opens=False, can_end=False),
    dict(key="find", text="At last , {who} found {his} {thetoy} near the {spot} .", opens=False),
    dict(key="help", text="But {Friend} helped {him} get the {toy} back .", opens=False),
    dict(key="break", text="Oh no ! {His} {toy} broke into two pieces .", follows=("fix", "cry"), can_end=False),
    dict(key="fix", text="Luckily , {his} {parent} fixed the {toy} with some {fixer} .", opens=False),
    dict(key="eat", text="Later , {who} ate a {taste} {food} with {his} {parent} ."),
    dict(key="weather", text="Soon , it began to {weather} , so {he} {move} home ."),
    dict(key="animal", text="While {who} was at the {place} , {who} saw a big {animal} ."),
    dict(key="show", text="Next , {who} {how} showed {his} {thetoy} to {his} {parent} ."),
    dict(key="feel", text="After that , {Name} felt very {feeling} ."),
    dict(key="paint", text="Afterwards , {who} painted a picture of a {adj} {animal} ."),
    dict(key="chores", text="Sometimes {who} helped {his} {parent} make a {food} ."),
)
"""The middle events of a story: the states of a Markov chain over templates."""

ENDINGS = (
    "In the end , {Name} was very {joy} .",
    "From that day on , {Name} and {Friend} were best friends .",
    "That night , {who} went to sleep with {his} {thetoy} .",
    "It was the best {time} ever for {Name} .",
    "Now {Name} goes to the {place} every day .",
)
"""Templates of the last sentence."""

SETTINGS = {"max_events": 6, "end_prob": 0.3, "zipf": 0.5, "pronoun_prob": 0.6, "colour_prob": 0.3}
"""At most ``max_events`` events; after an event that can close the story it ends with probability ``end_prob``;
``{who}`` is the hero's pronoun with probability ``pronoun_prob`` (else the name); ``{thetoy}`` names the toy's
colour with probability ``colour_prob``; ``zipf`` is the exponent of the word weights."""

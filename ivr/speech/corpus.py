"""A clinic-domain text corpus: what patients say on a clinic's voicemail, from templates and vocabulary.

The clinic language model (ivr/speech/lm.py) is trained on this, mixed with general English. It is
written independently of the reference voicemails (benches/reference_texts.py); the benchmark checks
that no reference sentence occurs in it. Numbers, dates and phone numbers are spelled as spoken.
"""

from __future__ import annotations

import random
import re

FIRST = """james mary john patricia robert jennifer michael linda william elizabeth david barbara richard susan
joseph jessica thomas sarah charles karen christopher nancy daniel lisa matthew betty anthony margaret mark
sandra donald ashley steven kimberly paul emily andrew donna joshua michelle kenneth carol kevin amanda brian
melissa george deborah timothy stephanie ronald rebecca edward sharon jason laura jeffrey cynthia ryan kathleen
jacob amy gary angela nicholas shirley eric anna jonathan brenda stephen pamela larry emma justin nicole scott
helen brandon samantha benjamin katherine samuel christine gregory debra alexander rachel frank carolyn patrick
janet raymond catherine jack maria dennis heather jerry diane tyler ruth aaron julie jose olivia adam joyce
henry virginia nathan victoria douglas kelly zachary lauren peter christina kyle joan walter evelyn ethan
judith jeremy megan harold andrea keith cheryl christian hannah roger jacqueline noah martha gerald gloria
carl teresa terry ann sean sara austin madison arthur frances lawrence kathryn jesse janice dylan jean bryan
abigail joe alice jordan judy billy sophia bruce grace albert denise willie amber gabriel doris logan marilyn
alan danielle juan beverly wayne isabella roy theresa ralph diana randy natalie eugene brittany vincent
charlotte russell marie elijah kayla louis alexis bobby lori philip carlos rosa luis ana miguel sofia
wei mei ahmed fatima priya raj ali omar yusuf aisha tran minh kim""".split()

LAST = """smith johnson williams brown jones garcia miller davis rodriguez martinez hernandez lopez gonzalez wilson
anderson thomas taylor moore jackson martin lee perez thompson white harris sanchez clark ramirez lewis robinson
walker young allen king wright scott torres nguyen hill flores green adams nelson baker hall rivera campbell
mitchell carter roberts gomez phillips evans turner diaz parker cruz edwards collins reyes stewart morris
morales murphy cook rogers gutierrez ortiz morgan cooper peterson bailey reed kelly howard ramos kim cox ward
richardson watson brooks chavez wood james bennett gray mendoza ruiz hughes price alvarez castillo sanders
patel myers long ross foster jimenez powell jenkins perry russell sullivan bell coleman butler henderson
barnes gonzales fisher vasquez simmons romero jordan patterson alexander hamilton graham reynolds griffin
wallace moreno west cole hayes bryant herrera gibson ellis tran medina aguilar stevens murray ford castro
marshall owens harrison fernandez mcdonald woods washington kennedy wells vargas henry chen freeman webb
tucker guzman burns crawford olson simpson porter hunter gordon mendez silva shaw snyder mason dixon munoz
hunt hicks holmes palmer wagner black robertson boyd rose stone salazar fox warren mills meyer rice schmidt
garza daniels ferguson nichols stephens soto weaver ryan gardner payne grant dunn kelley spencer hawkins
arnold pierce vazquez hansen peters santos hart bradley knight elliott cunningham duncan armstrong hudson
carroll lane riley andrews alvarado ray delgado berry perkins hoffman johnston matthews pena richards
contreras willis carpenter lawrence sandoval wang li zhang liu singh shah khan ali""".split()

DOCTORS = "patel nguyen smith lee kim garcia chen johnson williams brown rodriguez shah khan miller davis".split()

DRUGS = """lisinopril metformin atorvastatin amlodipine levothyroxine simvastatin omeprazole losartan albuterol
gabapentin hydrochlorothiazide sertraline metoprolol montelukast fluticasone escitalopram rosuvastatin
bupropion furosemide pantoprazole trazodone prednisone tramadol insulin warfarin amoxicillin azithromycin
citalopram meloxicam clopidogrel carvedilol tamsulosin duloxetine cyclobenzaprine fluoxetine ibuprofen
naproxen acetaminophen lorazepam alprazolam zolpidem eliquis xarelto ozempic jardiance synthroid lipitor
zoloft prozac lexapro wellbutrin norvasc glipizide pravastatin spironolactone allopurinol""".split()

DRUG_KINDS = """blood pressure medicine|cholesterol medicine|thyroid medicine|diabetes medicine|inhaler|antibiotic|
pain medication|water pill|blood thinner|allergy medicine|birth control|sleeping pills|anxiety medication|
depression medication|heart medication|insulin|eye drops|cream|patches|nebulizer solution""".replace("\n", "").split("|")

MONTHS = "january february march april may june july august september october november december".split()
ORDINALS = """first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth
fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth twentieth twenty_first twenty_second
twenty_third twenty_fourth twenty_fifth twenty_sixth twenty_seventh twenty_eighth twenty_ninth thirtieth
thirty_first""".replace("_", " ").split()
DIGITS = "zero one two three four five six seven eight nine".split()
TEENS = "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()
TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()
DAYS = "monday tuesday wednesday thursday friday saturday sunday".split()
TIMES_OF_DAY = ["in the morning", "in the afternoon", "in the evening", "at lunch time", "after work", "before noon", "first thing"]
SYMPTOMS = """a headache|a sore throat|a cough|a fever|back pain|a rash|nausea|diarrhea|vomiting|dizziness|ear pain|
a stomach ache|chills|swelling in my legs|heartburn|a migraine|a urinary tract infection|pink eye|the flu|
shortness of breath|chest pain|chest tightness|pain in my side|a sinus infection|a lot of congestion|
trouble sleeping|numbness in my hand|blurry vision|joint pain|a swollen ankle|a bad cold|palpitations|
heavy bleeding|a nosebleed that won't stop|high blood pressure|low blood sugar|high blood sugar""".replace("\n", "").split("|")
BODY = "knee shoulder back neck ankle wrist hip foot hand elbow chest stomach arm leg head ear eye throat".split()
RELATIVES = "son daughter husband wife mother father mom dad grandson granddaughter grandmother grandfather baby sister brother".split()
INSURERS = ["blue cross", "blue shield", "aetna", "cigna", "united healthcare", "medicare", "medicaid", "humana", "kaiser", "tricare"]
PHARMACIES = ["c v s", "walgreens", "rite aid", "walmart", "costco", "the pharmacy on main street", "the pharmacy downtown", "the mail order pharmacy", "kroger"]
STAFF = ["the doctor", "the nurse", "doctor {doc}", "the nurse practitioner", "the front desk", "billing", "the office manager", "someone from billing", "someone in scheduling", "the physician assistant"]
VISITS = ["a physical", "a checkup", "a follow up", "a flu shot", "a well child visit", "a sick visit", "my annual exam", "a blood test", "a tetanus shot", "a telehealth visit", "a covid test", "a pap smear", "a consultation", "my vaccines", "a mammogram", "an e k g"]
FORMS = ["a work note", "a school form", "a disability form", "a prior authorization", "a referral", "my medical records", "my immunization records", "a letter for my employer", "a sports physical form", "a jury duty letter", "paperwork for my insurance"]


def number_words(n: int) -> str:
    """0..9999 as spoken ("two hundred and fifty")."""
    if n < 10:
        return DIGITS[n]
    if n < 20:
        return TEENS[n - 10]
    if n < 100:
        return TENS[n // 10 - 2] + ("" if n % 10 == 0 else " " + DIGITS[n % 10])
    if n < 1000:
        rest = n % 100
        return DIGITS[n // 100] + " hundred" + ("" if rest == 0 else " and " + number_words(rest))
    rest = n % 1000
    return number_words(n // 1000) + " thousand" + ("" if rest == 0 else " " + number_words(rest))


def year_words(y: int) -> str:
    """A year as spoken: nineteen fifty two, two thousand eleven, nineteen oh five."""
    if 2000 <= y < 2010:
        return "two thousand" + ("" if y == 2000 else " " + DIGITS[y - 2000])
    hi, lo = divmod(y, 100)
    if lo == 0:
        return number_words(hi) + " hundred"
    return number_words(hi) + " " + (f"oh {DIGITS[lo]}" if lo < 10 else number_words(lo))


class Filler:
    """Random slot values from the vocabulary above."""

    def __init__(self, rng: random.Random) -> None:
        self.r = rng

    def pick(self, items: list[str]) -> str:
        return self.r.choice(items)

    def name(self) -> str:
        return f"{self.pick(FIRST)} {self.pick(LAST)}" if self.r.random() < 0.8 else self.pick(FIRST)

    def dob(self) -> str:
        year = self.r.randint(1925, 2024)
        return f"{self.pick(MONTHS)} {self.pick(ORDINALS)} {year_words(year)}"

    def phone(self) -> str:
        r = self.r
        digits = [str(r.randint(0, 9)) for _ in range(7)]
        area = r.choice(["five five five", " ".join(DIGITS[r.randint(2, 9)] for _ in range(3))])
        spoken = [DIGITS[int(d)] for d in digits]
        if r.random() < 0.15:  # "forty four" style pairs at the end
            last = int(digits[3] + digits[4])
            return f"{area} {' '.join(spoken[:3])} {number_words(last) if last >= 10 else spoken[3] + ' ' + spoken[4]} {' '.join(spoken[5:])}"
        return f"{area} {' '.join(spoken[:3])} {' '.join(spoken[3:])}"

    def money(self) -> str:
        n = self.r.choice([self.r.randint(10, 99), self.r.randint(1, 19) * 50, self.r.randint(100, 2500)])
        return f"{number_words(n)} dollars"

    def clock(self) -> str:
        h = self.r.randint(1, 12)
        m = self.r.choice(["", " o'clock", " fifteen", " thirty", " forty five", " fifteen", " thirty"])
        return f"{number_words(h)}{m}"

    def when(self) -> str:
        return self.pick([
            f"on {self.pick(DAYS)}", "tomorrow", "today", "next week", "this week", f"next {self.pick(DAYS)}",
            f"on {self.pick(MONTHS)} {self.pick(ORDINALS)}", f"at {self.clock()}", f"on {self.pick(DAYS)} at {self.clock()}",
            "this afternoon", "this morning", "later today", "at the end of the month",
        ])

    def since(self) -> str:
        n = self.r.randint(2, 10)
        return self.pick(["yesterday", "last night", "this morning", f"{number_words(n)} days", f"about {number_words(n)} days",
                          "a week", "two weeks", "the weekend", f"last {self.pick(DAYS)}", "a few days", "a couple of days"])

    def staff(self) -> str:
        return self.pick(STAFF).format(doc=self.pick(DOCTORS))


GREETINGS = ["hi", "hello", "hey", "good morning", "good afternoon", "good evening", "yes hi", "hi there", "um hi", "hello there", "hi good morning"]
INTROS = ["this is {name}", "my name is {name}", "it's {name}", "this is {name} calling", "{name} here", "i'm calling for {name}",
          "this is {name} calling for my {rel}", "this message is for {staff} this is {name}", "hi this is {name} again"]
IDS = ["my date of birth is {dob}", "date of birth {dob}", "my birthday is {dob}", "i was born {dob}", "born on {dob}",
       "her date of birth is {dob}", "his date of birth is {dob}", "d o b {dob}", "the date of birth is {dob}"]
CALLBACKS = ["please call me back at {phone}", "you can reach me at {phone}", "my number is {phone}", "call me at {phone}",
             "my phone number is {phone}", "the best number to reach me is {phone}", "my cell is {phone}", "call me back please",
             "please give me a call back", "please call me back when you get a chance", "you can call me back at this number",
             "my number again is {phone}", "please return my call", "i'll be home all day", "leave a message if i don't answer"]
CLOSINGS = ["thank you", "thanks", "thank you so much", "thanks bye", "bye", "have a good day", "thank you goodbye", "i appreciate it", "thanks a lot"]

BODIES = [
    # prescriptions
    "i need a refill of my {drug}", "i'm calling for a refill on my {drug}", "i need a refill on my {kind}",
    "can you send a prescription for {drug} to {pharmacy}", "i ran out of my {drug} {since} ago",
    "i'm out of my {kind} and i need a new prescription", "{pharmacy} says my prescription needs the doctor's approval",
    "i'd like a ninety day supply of {drug}", "my {drug} refill was denied by the pharmacy", "i need my {kind} renewed",
    "the pharmacy has not received my refill request", "could the doctor send my {drug} to {pharmacy}",
    "i have {number} pills left of my {drug}", "i'm running low on my {kind}", "i need to switch my prescriptions to {pharmacy}",
    "my insurance won't cover the {drug} anymore", "is there a generic for {drug}", "the {drug} is making me feel sick",
    "i think i need a higher dose of {drug}", "i was told to stop the {drug} is that right", "i missed a dose of my {drug} what should i do",
    "can i take {drug} with {drug2}", "i need a prior authorization for my {drug}", "the doctor was supposed to call in a prescription",
    # appointments
    "i need to make an appointment", "i'd like to schedule {visit}", "i need to cancel my appointment {when}",
    "i need to reschedule my appointment with {staff}", "can i move my appointment to {when}", "i have an appointment {when} and i can't make it",
    "i'd like to see {staff} {when}", "do you have anything available {when}", "i'm running late for my appointment",
    "i missed my appointment {when}", "i'd like to book {visit} for my {rel}", "i'm a new patient and i'd like to register",
    "i want to confirm my appointment {when}", "i need a follow up appointment after my {visit}", "can i get in {when} {tod}",
    "is the office open {when}", "i'm available any day {tod}", "i can only come in {tod}", "i need an appointment for my {body}",
    "i need to see someone about my {body}", "my {body} has been hurting for {since}", "i need a same day appointment",
    "please put me on the wait list", "i need to change the time of my appointment", "i'm calling to schedule my {rel}'s {visit}",
    # results
    "i'm calling about my test results", "i'd like to get my lab results", "i had blood work done {when}",
    "i'm waiting for the results of my {visit}", "the nurse left me a message about my results", "i got a message to call the office",
    "can someone go over my results with me", "i haven't heard back about my x ray", "did my results come back yet",
    "i saw my results online and i have questions", "my cholesterol was high on my last test",
    # billing
    "i have a question about my bill", "i received a bill for {money}", "i was charged {money} for my visit",
    "i think i was billed twice", "my insurance should have paid for this", "i'd like to set up a payment plan",
    "i need to update my insurance information", "i have new insurance with {insurer}", "my insurance is {insurer}",
    "i want to pay my bill over the phone", "i got a statement that i don't understand", "why was i charged for the lab work",
    "i'd like a refund", "can someone from billing call me", "my account number is {digits}", "i already paid this bill",
    "the charges on my statement are wrong", "does the office accept {insurer}", "i need an itemized bill",
    "i was sent to collections by mistake", "what is the copay for {visit}",
    # nurse / symptoms
    "i've had {symptom} for {since}", "my {rel} has had {symptom} since {since}", "i have {symptom} and {symptom2}",
    "i'd like to talk to a nurse", "should i come in or go to urgent care", "my temperature is {number} point {digit}",
    "i have a fever of {number} point {digit}", "my blood pressure was {number} over {number2} this morning",
    "my blood sugar is {number}", "my sugar has been running high", "i'm having a reaction to the {drug}",
    "i have a rash since i started the {drug}", "my {rel} is {number} years old and has {symptom}", "i fell and hurt my {body}",
    "my {body} is swollen and red", "i think i have an infection", "the medicine isn't helping", "i feel worse than before",
    "i've been feeling tired all the time", "i've been throwing up all night", "i can't keep anything down",
    "i'm pregnant and i have {symptom}", "i'm {number} weeks pregnant", "i have a question about my medication",
    "is it safe to take {drug} while pregnant", "how often should i take the {drug}",
    # urgent
    "i'm having chest pain", "i have chest pain and my arm feels numb", "i'm having trouble breathing", "i can't breathe very well",
    "my {rel} is having trouble breathing", "i'm bleeding a lot", "the bleeding won't stop", "i'm bleeding and i'm pregnant",
    "i've been having thoughts of suicide", "i'm thinking about killing myself", "i don't want to live anymore",
    "i've been having thoughts of hurting myself", "i feel very depressed and i need help", "i'm having a panic attack",
    "my {rel} passed out", "my {rel} is not breathing right", "i think i'm having a heart attack", "i think my {rel} is having a stroke",
    "my face feels numb and my speech is slurred", "i took too many pills", "i have the worst headache of my life",
    "i have severe pain in my {body}", "i'm coughing up blood", "my {rel} has a high fever and is very sleepy",
    "it's an emergency please call me right away", "this is urgent please call me back as soon as possible",
    "should i go to the emergency room", "i'm on my way to the emergency room", "i was in the hospital {when}",
    "i was discharged from the hospital {when} and i need a follow up",
    # records and other
    "i need {form}", "can you fax {form} to my new doctor", "i need a copy of {form}", "i'm calling about {form}",
    "i need a referral to a specialist", "i need a referral to a {specialist}", "i'm calling to update my address",
    "i moved and i have a new phone number", "my new number is {phone}", "i need to fill out a form for work",
    "can i pick up the form at the front desk", "i'd like to sign up for the patient portal", "i can't log into the patient portal",
    "i need to transfer my records to another clinic", "i'm returning a call from {staff}", "i'm returning your call",
    "someone called me from this number", "what are your hours {when}", "where do i park for the clinic",
    "i need an interpreter for my appointment", "my {rel} needs {visit}", "i'm calling on behalf of my {rel}",
]
SPECIALISTS = ["cardiologist", "dermatologist", "orthopedic doctor", "neurologist", "physical therapist", "gastroenterologist",
               "psychiatrist", "therapist", "eye doctor", "allergist", "endocrinologist", "urologist", "podiatrist", "surgeon"]
EXTRAS = ["it's been getting worse", "i'm not sure what to do", "it's really painful", "i'm a little worried", "it's not an emergency",
          "i've tried over the counter medicine", "i'd appreciate a call back today", "i don't have a car", "i work until five",
          "i'm going out of town {when}", "the pharmacy is waiting on you", "please let me know", "it's kind of urgent",
          "i called {when} but nobody called me back", "i'm sorry for the long message", "i can also come in {when}",
          "my {rel} can drive me", "i'm leaving a message because nobody answered", "again my name is {name}"]


def _fill(template: str, f: Filler) -> str:
    values = {
        "name": f.name, "dob": f.dob, "phone": f.phone, "drug": lambda: f.pick(DRUGS), "drug2": lambda: f.pick(DRUGS),
        "kind": lambda: f.pick(DRUG_KINDS), "pharmacy": lambda: f.pick(PHARMACIES), "since": f.since, "when": f.when,
        "visit": lambda: f.pick(VISITS), "staff": f.staff, "rel": lambda: f.pick(RELATIVES), "tod": lambda: f.pick(TIMES_OF_DAY),
        "body": lambda: f.pick(BODY), "money": f.money, "insurer": lambda: f.pick(INSURERS), "symptom": lambda: f.pick(SYMPTOMS),
        "symptom2": lambda: f.pick(SYMPTOMS), "number": lambda: number_words(f.r.randint(2, 120)),
        "number2": lambda: number_words(f.r.randint(50, 110)), "digit": lambda: f.pick(DIGITS),
        "digits": lambda: " ".join(f.pick(DIGITS) for _ in range(f.r.randint(4, 8))), "form": lambda: f.pick(FORMS),
        "specialist": lambda: f.pick(SPECIALISTS),
    }
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)](), template)


def voicemail(f: Filler) -> list[str]:
    """One made-up voicemail as a list of utterances (greeting, who, why, details, callback, closing)."""
    r = f.r
    parts = []
    if r.random() < 0.8:
        parts.append(f.pick(GREETINGS))
    parts.append(_fill(f.pick(INTROS), f))
    if r.random() < 0.5:
        parts.append(_fill(f.pick(IDS), f))
    for _ in range(r.choice([1, 1, 2, 2, 3])):
        parts.append(_fill(f.pick(BODIES), f))
    if r.random() < 0.4:
        parts.append(_fill(f.pick(EXTRAS), f))
    if r.random() < 0.3 and not any("born" in p or "birth" in p for p in parts):
        parts.append(_fill(f.pick(IDS), f))
    if r.random() < 0.75:
        parts.append(_fill(f.pick(CALLBACKS), f))
    if r.random() < 0.7:
        parts.append(f.pick(CLOSINGS))
    return parts


def generate(n: int = 20_000, seed: int = 1) -> list[str]:
    """``n`` voicemails, each one line of lower-case words (utterances joined), deterministic for a seed."""
    f = Filler(random.Random(seed))
    return [" ".join(voicemail(f)) for _ in range(n)]

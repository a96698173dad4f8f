"""A clinic-domain text corpus: what patients say on a clinic's voicemail, from templates and vocabulary.

The clinic language model (ivr/speech/lm.py) is trained on this, mixed with general English. It is
written independently of the reference voicemails (benches/reference_texts.py); the benchmark checks
that no reference sentence occurs in it. Numbers, dates and phone numbers are spelled as spoken.

A recogniser can only say words its language model has, so the corpus has to cover what callers
actually say, not only the reasons they call. It was broadened from about 1,100 to 2,300 distinct
words (how people feel, conditions, tests, injuries, medicine forms and doses, plural days and times,
what happened to a prescription or a bill, staff roles, addresses, more names and everyday phrasing)
by a session that could not read the reference, development or blind voicemails. On the blind ones
(benches/blind_texts.py, written before the broadening by another session that could not read this
file) it took word errors from 24.4% to 22.1%; on the development ones from 19.9% to 16.7%.
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

# More first names, across generations: older callers, their children, young parents and children.
FIRST += """dorothy mildred gladys edna ethel florence irene lois norma phyllis bernice marjorie geraldine wanda
vera thelma hazel louise peggy bonnie sylvia arlene maxine loretta agnes bessie eleanor harold walter earl herbert
leonard howard stanley norman melvin floyd clarence vernon chester lloyd herman leroy marvin glenn dale wendell
elmer cecil ernest alfred milton bernard irving tammy tina dawn wendy rhonda sherry tracy stacy kristen heidi
holly april jill leslie colleen monica tonya crystal misty erin allison jodi melinda todd troy shawn darren derek
travis chad corey craig brett jared mike bob jim tom bill dave steve chris pat tony rick dan ken ron don jeff
greg doug sue kathy barb patty debbie cindy terri lynn jenny beth liz maggie liam oliver lucas aiden jayden
jackson caleb owen wyatt hunter levi isaac luke carter grayson cameron connor colton landon chase dominic xavier
mateo santiago leo ezra asher ava mia harper chloe zoe lily layla riley nora hailey aubrey brooklyn addison
peyton kaylee avery sydney mackenzie paige destiny jasmine alyssa haley taylor morgan savannah camila valentina
luna aria scarlett stella violet mila penelope deshawn tyrone jamal darnell latoya keisha tamika ebony aaliyah
imani jalen malik terrance marcus andre dwayne jesus alejandro ricardo francisco javier eduardo fernando
guadalupe lupe carmen yolanda gabriela alejandra veronica esperanza jorge pedro manuel rafael hector sergio
angel lucia daniela linh thanh hoang hiroshi kenji yuki akiko jin ming hui wen anil sunil deepak ravi anjali
lakshmi kavita sanjay vijay arjun neha pooja mohammed mohamed hassan khalid mariam zainab ibrahim mustafa""".split()
FIRST = list(dict.fromkeys(FIRST))  # the additions repeat a few names already listed

LAST += """o'brien o'connor o'neill mccarthy mcbride fitzgerald brennan donnelly gallagher quinn doyle walsh byrne
mueller schneider becker weber schmitt koch klein wolf zimmerman krueger hartman russo romano ricci esposito
marino rossi costa lombardi deluca cohen levy goldberg friedman katz rosenberg shapiro schwartz kaplan larson
hanson swanson johansson kaminski lewandowski jefferson banks gaines pham hoang huynh vu vo dang bui ngo park
choi jung kang cho yoon lim han wu huang zhao zhou xu sun ma zhu hu lin gao kumar sharma gupta reddy mehta
joshi desai rao iyer nair hassan ahmed ibrahim mohamed abdullah vega rios luna acosta sosa navarro campos
fuentes cabrera espinoza salinas mejia pacheco ibarra figueroa rosales velasquez cortez bautista villanueva
wong thompson""".split()
LAST = list(dict.fromkeys(LAST))

DOCTORS = "patel nguyen smith lee kim garcia chen johnson williams brown rodriguez shah khan miller davis".split()
DOCTORS += "wong martinez thompson anderson taylor wilson hernandez clark rivera murphy cohen goldberg o'connor park gupta".split()
DOCTORS = list(dict.fromkeys(DOCTORS))

DRUGS = """lisinopril metformin atorvastatin amlodipine levothyroxine simvastatin omeprazole losartan albuterol
gabapentin hydrochlorothiazide sertraline metoprolol montelukast fluticasone escitalopram rosuvastatin
bupropion furosemide pantoprazole trazodone prednisone tramadol insulin warfarin amoxicillin azithromycin
citalopram meloxicam clopidogrel carvedilol tamsulosin duloxetine cyclobenzaprine fluoxetine ibuprofen
naproxen acetaminophen lorazepam alprazolam zolpidem eliquis xarelto ozempic jardiance synthroid lipitor
zoloft prozac lexapro wellbutrin norvasc glipizide pravastatin spironolactone allopurinol""".split()
DRUGS += """cephalexin doxycycline ciprofloxacin hydrocodone oxycodone benzonatate cetirizine famotidine
ondansetron hydroxyzine propranolol valacyclovir fluconazole clonazepam estradiol sumatriptan adderall humira
trulicity mounjaro wegovy farxiga entresto flonase zyrtec benadryl mucinex crestor plavix augmentin flexeril
percocet symbicort lantus metronidazole amitriptyline baclofen atenolol tamiflu paxlovid miralax coumadin
prilosec keflex tylenol advil motrin claritin aspirin nitroglycerin potassium xanax ambien norco zofran valium
diltiazem clonidine nifedipine colchicine melatonin methotrexate""".split()

DRUG_KINDS = """blood pressure medicine|cholesterol medicine|thyroid medicine|diabetes medicine|inhaler|antibiotic|
pain medication|water pill|blood thinner|allergy medicine|birth control|sleeping pills|anxiety medication|
depression medication|heart medication|insulin|eye drops|cream|patches|nebulizer solution""".replace("\n", "").split("|")
DRUG_KINDS += """thyroid pills|nausea medicine|cough medicine|cough syrup|muscle relaxer|steroid cream|ear drops|nasal spray|
vitamin d|iron pills|stool softener|acid reflux medicine|migraine medicine|a d h d medication|seizure medication|
gout medicine|antidepressant|nerve pain medicine|prenatal vitamins|testosterone|estrogen|rescue inhaler|
insulin pens|test strips|pen needles|lancets|diabetic supplies|epipen|ointment|antibiotic cream|
blood pressure pills|cholesterol pills|heartburn medicine|allergy pills""".replace("\n", "").split("|")

MONTHS = "january february march april may june july august september october november december".split()
ORDINALS = """first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth
fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth twentieth twenty_first twenty_second
twenty_third twenty_fourth twenty_fifth twenty_sixth twenty_seventh twenty_eighth twenty_ninth thirtieth
thirty_first""".split()
ORDINALS = [o.replace("_", " ") for o in ORDINALS]
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
SYMPTOMS += """cramps|bad cramps|leg cramps|stomach cramps|a stiff neck|a runny nose|a stuffy nose|body aches|
night sweats|a burning feeling when i pee|blood in my urine|constipation|bloating|hot flashes|a toothache|
ringing in my ears|tingling in my feet|swollen glands|a dry cough|a wet cough|wheezing|no appetite|a lot of itching|
acid reflux|indigestion|lower back pain|hip pain|knee pain|pain when i swallow|a twitch in my eye|hair loss|
dry skin|itchy eyes|watery eyes|hives|a cold sore|a yeast infection|a bladder infection|an ear infection|
a kidney infection|a low grade fever|a really bad sore throat|back spasms|panic attacks|trouble swallowing|
pain when i pee|a lot of mucus|a cough that won't go away|a pulled muscle|muscle aches|a sore knee|
a pain in my chest when i breathe|a lot of gas|sharp pains in my stomach|a pounding headache|earaches|
a bad taste in my mouth|a cough at night|heartburn at night|a lot of stress|a racing heart""".replace("\n", "").split("|")
BODY = "knee shoulder back neck ankle wrist hip foot hand elbow chest stomach arm leg head ear eye throat".split()
BODY += "toe finger thumb face jaw calf thigh heel forearm nose lip scalp".split() + ["lower back", "big toe", "right knee", "left shoulder"]
RELATIVES = "son daughter husband wife mother father mom dad grandson granddaughter grandmother grandfather baby sister brother".split()
RELATIVES += ["aunt", "uncle", "niece", "nephew", "cousin", "partner", "boyfriend", "girlfriend", "stepson", "stepdaughter",
              "mother in law", "father in law", "little boy", "little girl", "teenage son", "teenage daughter", "newborn", "fiance"]
INSURERS = ["blue cross", "blue shield", "aetna", "cigna", "united healthcare", "medicare", "medicaid", "humana", "kaiser", "tricare"]
INSURERS += ["anthem", "molina", "ambetter", "wellcare", "oscar", "blue cross blue shield", "a a r p", "medicare advantage",
             "my husband's insurance", "my wife's insurance", "the state insurance", "cobra", "medicare part d", "optum"]
PHARMACIES = ["c v s", "walgreens", "rite aid", "walmart", "costco", "the pharmacy on main street", "the pharmacy downtown", "the mail order pharmacy", "kroger"]
PHARMACIES += ["publix", "safeway", "meijer", "target", "sam's club", "the hospital pharmacy", "express scripts", "amazon pharmacy",
               "the c v s on main street", "the walgreens on oak street", "the pharmacy in the grocery store",
               "the walmart pharmacy", "the pharmacy across the street", "the pharmacy by my house", "optum r x"]
STAFF = ["the doctor", "the nurse", "doctor {doc}", "the nurse practitioner", "the front desk", "billing", "the office manager", "someone from billing", "someone in scheduling", "the physician assistant"]
VISITS = ["a physical", "a checkup", "a follow up", "a flu shot", "a well child visit", "a sick visit", "my annual exam", "a blood test", "a tetanus shot", "a telehealth visit", "a covid test", "a pap smear", "a consultation", "my vaccines", "a mammogram", "an e k g"]
VISITS += ["a medicare wellness visit", "a pre op appointment", "a blood pressure check", "a diabetes check", "a weight check",
           "a shingles shot", "a pneumonia shot", "a covid booster", "an ear cleaning", "a skin check", "a new patient appointment",
           "a medication check", "a b twelve shot", "a hepatitis b shot", "a d o t physical", "a pregnancy test", "my six month follow up",
           "a prenatal visit", "a well woman exam", "a newborn visit", "a sports physical", "a school physical", "a strep test",
           "a t b test", "my yearly physical", "a wound check", "a visit to get my stitches out", "a depression screening", "a cortisone shot"]
FORMS = ["a work note", "a school form", "a disability form", "a prior authorization", "a referral", "my medical records", "my immunization records", "a letter for my employer", "a sports physical form", "a jury duty letter", "paperwork for my insurance"]
FORMS += ["a handicap parking form", "an f m l a form", "a camp form", "a daycare form", "a return to work note",
          "a doctor's note for school", "a letter for my landlord", "my vaccination card", "a copy of my lab results",
          "a medical clearance letter", "a d m v form", "a form for my gym", "a physical form for my job",
          "a letter saying i can travel", "my short term disability paperwork", "a home health order", "a walker prescription"]

# How callers say they feel (after "i feel", "i've been feeling", "i'm").
FEELINGS = """dizzy|lightheaded|nauseous|shaky|itchy|achy|weak|exhausted|thirsty|confused|tired|sore|stiff|bloated|
constipated|congested|feverish|anxious|depressed|sleepy|groggy|faint|numb|jittery|clammy|sweaty|irritable|stressed|
run down|worn out|off balance|foggy|out of breath|sick to my stomach|queasy|woozy|cold all the time|restless|
really down|overwhelmed|hungry all the time|itchy all over|short of breath|wiped out|dehydrated|sluggish|
nervous|on edge|lousy|miserable|pretty sick|unsteady""".replace("\n", "").split("|")
# Illnesses and diagnoses callers name (as they would say them after "i have" or "diagnosed with").
CONDITIONS = """pneumonia|bronchitis|strep throat|strep|shingles|a kidney stone|kidney stones|gout|asthma|diabetes|
type two diabetes|high cholesterol|an ear infection|a yeast infection|a bladder infection|covid|mono|pink eye|
a hernia|arthritis|sciatica|vertigo|a thyroid problem|an underactive thyroid|anemia|acid reflux|eczema|psoriasis|
hives|an ulcer|a blood clot|a concussion|appendicitis|gallstones|sleep apnea|c o p d|a heart murmur|a fib|
an enlarged prostate|hemorrhoids|a cyst|an abscess|tonsillitis|an allergic reaction|poison ivy|lyme disease|
whooping cough|r s v|ringworm|lice|a stye|a cold sore|a sinus infection|diverticulitis|celiac disease|
migraines|a pinched nerve|carpal tunnel|plantar fasciitis|tendonitis|bursitis|osteoporosis|fibromyalgia|
depression|anxiety|a d h d|insomnia|high blood pressure|prediabetes|a urinary tract infection|a stomach bug|
food poisoning|an infected tooth|a torn meniscus|a rotator cuff tear|a hairline fracture|cellulitis|
an irregular heartbeat|congestive heart failure|kidney disease|a fatty liver|a viral infection|a chest cold|
seasonal allergies|a bacterial infection|the stomach flu|heat exhaustion""".replace("\n", "").split("|")
# Tests and procedures, with their article ("my {test_bare}" drops it).
TESTS = """a biopsy|an ultrasound|an m r i|a cat scan|a c t scan|a colonoscopy|a stress test|a urine test|an x ray|
a chest x ray|a blood test|a mammogram|a bone density scan|an echocardiogram|an e k g|a sleep study|a pap smear|
a strep test|a covid test|a pregnancy test|a hearing test|an eye exam|a thyroid test|an a one c|a cholesterol test|
a lipid panel|a glucose test|a stool sample|a urine sample|a skin biopsy|an endoscopy|a heart monitor|a t b test|
a p s a test|allergy testing|a cortisone shot|a steroid shot|a nerve test|a pet scan|a breast ultrasound|
a pelvic ultrasound|a d x a scan|a holter monitor|a lab draw|a culture|a throat culture|a kidney ultrasound|
a hernia repair|a mole removal|a cyst removal|a vasectomy|a knee replacement|a hip replacement|cataract surgery|
a physical therapy evaluation|a swallow study|a fasting blood test|a drug screen|an iron test|a vitamin d test|
a liver test|a kidney function test|a genetic test|a dexa scan""".replace("\n", "").split("|")
# Things on the skin callers notice, and everyday injuries.
SKIN = """a mole|a lump|a bump|a wart|a cyst|a spot|a rash|a sore|a blister|a boil|a skin tag|a dry patch|
a red patch|an ingrown toenail|a dark spot|a growth|a scab that won't heal|a pimple that won't go away|
a lump under my arm|a swollen bump|a patch of itchy skin|a freckle that changed""".replace("\n", "").split("|")
INJURIES = """a cut|a bruise|a bee sting|a sprain|a burn|a bug bite|a dog bite|a cat scratch|a scrape|a splinter|
a pulled muscle|a twisted ankle|a broken toe|a jammed finger|a deep cut|a bad bruise|a tick bite|a spider bite|
a sunburn|a burn from the stove|a fall|a cut that might need stitches|a sprained wrist|a bump on the head|
a black eye|a nail through my shoe|a puncture wound|a strained back|whiplash""".replace("\n", "").split("|")
# Medicine forms, supplies and doses.
MED_FORMS = """tablets|capsules|pills|pens|patches|drops|syringes|needles|pen needles|test strips|lancets|inhalers|
vials|gummies|chewable tablets|suppositories|injections|lozenges|sprays|refills|pill packs|blister packs""".replace("\n", "").split("|")
PILL_FORMS = ["tablets", "capsules", "pills", "chewable tablets", "extended release tablets", "gel caps"]
SUPPLIES = ["test strips", "lancets", "pen needles", "syringes", "insulin pens", "alcohol swabs", "a new glucose meter",
            "a blood pressure cuff", "compression socks", "a nebulizer", "c pap supplies", "a walker", "a cane",
            "crutches", "a knee brace", "a wrist brace", "diabetic shoes", "spacers for my inhaler", "oxygen"]
DOSE_NUMBERS = [1, 2, 5, 10, 12, 20, 25, 40, 50, 75, 80, 100, 150, 200, 250, 300, 400, 500, 600, 750, 800, 1000]
FREQUENCIES = ["once a day", "twice a day", "three times a day", "four times a day", "every morning", "every night",
               "at bedtime", "every other day", "as needed", "with meals", "every four hours", "every six hours",
               "once a week", "in the morning and at night", "with food", "on an empty stomach", "before breakfast"]
# Plural time words (mornings are better for me, i work weekends, i'm off on fridays).
PARTS_OF_DAY = ["mornings", "afternoons", "evenings"]
PLURAL_TIMES = ["mornings", "afternoons", "evenings", "weekends", "weekdays", "nights", "early mornings", "late afternoons"]
PLURAL_DAYS = "mondays tuesdays wednesdays thursdays fridays saturdays sundays".split()
# What happened to a prescription, bill, form, referral or result: (thing, plural, participles).
STATUSES = [(thing, plural, participles.split("|")) for thing, plural, participles in [
    ("prescription", False, "refilled|renewed|sent|denied|approved|filled|cancelled|transferred|called in|put on hold"),
    ("refill", False, "approved|denied|sent|processed|cancelled"),
    ("refill request", False, "approved|denied|sent|received"),
    ("bill", False, "paid|mailed|sent to collections|sent to my old address|submitted to insurance|denied|processed"),
    ("statement", False, "mailed|sent|emailed"),
    ("claim", False, "denied|approved|submitted|resubmitted|processed|rejected"),
    ("form", False, "faxed|emailed|mailed|signed|filled out|sent|completed|submitted|received"),
    ("paperwork", False, "faxed|emailed|mailed|signed|completed|submitted|received"),
    ("referral", False, "approved|denied|sent|submitted|faxed|received"),
    ("prior authorization", False, "approved|denied|submitted|sent"),
    ("records", True, "faxed|sent|mailed|transferred|received"),
    ("results", True, "mailed|sent|posted"),
    ("payment", False, "received|processed|declined"),
    ("insurance", False, "updated|cancelled|changed"),
]]
EXPIRABLE = ["prescription", "insurance card", "referral", "prior authorization", "disability paperwork",
             "handicap placard", "epipen", "inhaler", "medicaid", "coverage", "driver's license"]
PENDING = ["refill", "referral", "prior authorization", "claim", "application", "prescription", "lab order", "appointment request"]
# More people a caller deals with.
ROLES = ["the pharmacist", "the receptionist", "the medical assistant", "the lab", "the referral coordinator",
         "the care coordinator", "the case manager", "the social worker", "the triage nurse", "the on call doctor",
         "the billing office", "the insurance company", "the specialist", "the radiology department", "the x ray department",
         "the lady at the front desk", "the man at the front desk", "someone in the lab", "the nurse on call",
         "doctor {doc}'s nurse", "doctor {doc}'s assistant", "the scheduler", "the hospital", "the surgeon's office",
         "the home health nurse", "the physical therapist", "the dietitian", "the pharmacy tech", "my case worker",
         "the girl who answered the phone", "your answering service", "the urgent care", "the lab tech"]
FAX_TARGETS = ["my new doctor", "the specialist", "my employer", "my lawyer", "the school", "the hospital",
               "my insurance company", "the surgeon's office", "my job", "the daycare", "the physical therapist",
               "the disability office", "my h r department", "the dentist", "the nursing home", "the d m v"]
# Streets, towns and simple addresses, as said on the phone.
STREET_NAMES = """main oak maple elm pine cedar park washington lincoln jefferson church high center market lake river hill
spring walnut chestnut cherry willow sunset highland grove franklin madison college school mill meadow forest ridge
orchard birch magnolia dogwood sycamore hickory aspen poplar laurel lakeview hillside union jackson adams
first second third fourth fifth sixth seventh eighth ninth tenth""".split()
STREET_KINDS = ["street", "street", "street", "avenue", "avenue", "road", "drive", "lane", "court", "boulevard", "way",
                "place", "circle", "parkway", "terrace"]
CITIES = ["springfield", "riverside", "fairview", "franklin", "greenville", "clinton", "salem", "madison", "georgetown",
          "bristol", "arlington", "ashland", "milford", "newport", "oakwood", "westfield", "glendale", "centerville",
          "lakewood", "jacksonville", "columbus", "hamilton", "marion", "the city", "town"]
EMAIL_DOMAINS = ["gmail dot com", "yahoo dot com", "hotmail dot com", "outlook dot com", "a o l dot com", "icloud dot com",
                 "comcast dot net"]
# Everyday openers: "i was wondering if you could" + a request; "i just wanted to let you know" + news.
ASKS = ["i was wondering if you could", "could you", "could you please", "can you", "can you please", "can someone",
        "would you be able to", "is there any way you could", "i need someone to", "i was hoping you could",
        "if you could please", "i'd like you to", "would it be possible to", "i'm asking if you can", "could somebody"]
REQUESTS = ["call me back {future}", "send a new prescription to {pharmacy}", "send my {drug} to {pharmacy}",
            "fax {form} to {fax}", "check on my referral", "look into my bill", "check the status of my {pending}",
            "send me a copy of my {test_bare} results", "email me {form}", "mail {form} to my home address",
            "let me know if my {was_status}", "renew my prescription for {drug}", "call in a refill for my {drug}",
            "give me a call when my results come back", "tell the doctor i called", "have the nurse call me",
            "have {role} call me back", "move my appointment to {day}", "put me on the cancellation list",
            "send the referral to the {specialist}", "update my address to {address}", "change my pharmacy to {pharmacy}",
            "let me know what my {test_bare} showed", "explain the charges on my bill", "resend the bill to my insurance",
            "fill out the form and fax it back", "sign the form for my {rel}", "squeeze me in {future}", "get me in {future}",
            "increase my dose of {drug}", "send something in for {condition}", "put in an order for {test}",
            "send a prescription for more {supplies}", "mail me a new bill", "send my results to {fax}",
            "check if my insurance covers {test}", "tell me how to get ready for my {test_bare}",
            "send me a reminder about my appointment", "text me the address of the lab", "reset my portal password",
            "look at the picture i sent through the portal", "write me a note for work", "call my {rel} back at {phone}",
            "switch me to the generic", "send me the {number} milligram {pill_forms} instead",
            "let me know if i need to come in", "call the pharmacy for me", "see if there's an earlier appointment"]
NEWS_LEADS = ["i just wanted to let you know", "i wanted to let you know that", "just so you know", "i wanted to tell the doctor that",
              "please let the doctor know that", "can you let the doctor know that", "i just want the doctor to know",
              "i'm calling to let you know that", "i wanted to update the doctor that", "i wanted to give you an update"]
NEWS = ["i'm feeling a lot better", "the medicine is working", "the {drug} isn't working", "i stopped taking the {drug}",
        "i started the {drug} {past}", "i'm still {feel}", "my {test_bare} is scheduled {future}",
        "i had my {test_bare} done {past}", "i went to urgent care {past}", "i was in the emergency room {past}",
        "they said it was {condition}", "i got the letter in the mail", "i'll be out of town until {day}",
        "my {rel} will be bringing me", "my insurance changed", "i have a new phone number", "i moved to {address}",
        "my {was_status}", "the pharmacy still hasn't gotten the prescription", "i picked up my {drug}",
        "my blood pressure has been running high", "my blood pressure has been running low", "my fever went down",
        "the swelling went down", "the rash is spreading", "the pain is coming back", "i'm out of my {drug}",
        "i won't be able to make it {future}", "i'm running about {minutes} minutes late", "my sugars have been better",
        "the {drug} is making me {feel}", "i've lost {number} pounds", "my {rel} passed away {past}",
        "i'm back from the hospital", "i had the baby", "i'm not going to need the appointment after all",
        "the {skin} on my {body} is getting bigger", "i've been {feel} for {duration}", "i finished the antibiotics"]

SELF_REQUESTS = ["come in", "get a refill", "switch doctors", "talk to the nurse", "get my flu shot here", "pick up the form",
                 "bring my {rel} with me", "do a telehealth visit instead", "get the covid vaccine here", "get a copy of my records",
                 "pay my bill online", "change my pharmacy", "get a letter for work", "get in a little earlier", "come in a little later",
                 "see a different doctor", "get my blood drawn", "drop off the paperwork", "get my {rel} seen", "get a ninety day supply",
                 "have the results mailed to me", "move my appointment", "get a same day appointment", "speak to someone about my bill"]
SINCE_POINTS = ["yesterday", "last night", "this morning", "last week", "monday", "the weekend", "saturday", "my surgery",
                "my last visit", "i started the new medicine", "i got my shot", "i got back from vacation", "the accident", "i fell",
                "christmas", "the beginning of the month", "last {day}", "{month}", "i had the baby", "i got out of the hospital",
                "i had covid", "my last appointment", "the weekend before last", "i stopped the {drug}"]
LANDMARKS = ["school", "post office", "gas station", "church", "grocery store", "library", "park", "hospital", "fire station"]


def article_free(phrase: str) -> str:
    """'a biopsy' -> 'biopsy' (for "my {test_bare} results"; 'my annual exam' -> 'annual exam')."""
    return re.sub(r"^(a|an|my) ", "", phrase)


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

    def role(self) -> str:
        return self.pick(ROLES).format(doc=self.pick(DOCTORS))

    def past(self) -> str:
        n = self.r.randint(2, 10)
        return self.pick([
            "yesterday", "last week", "last month", "a few days ago", "a couple of days ago", "two weeks ago",
            f"on {self.pick(DAYS)}", f"last {self.pick(DAYS)}", "this morning", "a couple of weeks ago", "about a month ago",
            f"in {self.pick(MONTHS)}", f"back in {self.pick(MONTHS)}", "over the weekend", "the other day", "earlier today",
            "last night", "a while ago", f"{number_words(n)} days ago", f"{number_words(n)} weeks ago", "a few weeks ago",
            f"on {self.pick(MONTHS)} {self.pick(ORDINALS)}", "last year", "a few months ago", "right before christmas",
        ])

    def future(self) -> str:
        return self.pick([
            "next week", "tomorrow", f"on {self.pick(DAYS)}", "next month", "in two weeks", "at the end of the week",
            "this weekend", "in a couple of weeks", f"on the {self.pick(ORDINALS)}", "at the end of the month",
            "later this month", "early next week", f"on {self.pick(MONTHS)} {self.pick(ORDINALS)}",
            f"next {self.pick(DAYS)}", "later this week", "sometime next week", "in a few days",
            f"{self.pick(DAYS)} morning", f"{self.pick(DAYS)} afternoon", "in the next few days", "after the holidays",
        ])

    def duration(self) -> str:
        n = self.r.randint(2, 12)
        return self.pick([
            "a couple of days", "a few days", "about a week", "two weeks", "a month", f"about {number_words(n)} months",
            "a couple of weeks", "several weeks", "almost a year", "over a month", f"{number_words(n)} days",
            "a long time", "years", f"{number_words(n)} weeks", "the past week", "a few weeks", "about three days",
            "a week and a half", "a couple of months", "six months", "a year", f"{number_words(n)} years",
        ])

    def house_number(self) -> str:
        r = self.r
        n = r.choice([r.randint(1, 99), r.randint(100, 999), r.randint(1000, 9999), r.randint(10000, 29999)])
        if n < 100:
            return number_words(n)
        if n < 1000:
            hi, lo = divmod(n, 100)
            if lo == 0:
                return f"{DIGITS[hi]} hundred"
            return f"{DIGITS[hi]} {'oh ' + DIGITS[lo] if lo < 10 else number_words(lo)}" if r.random() < 0.7 else number_words(n)
        if n < 10000:
            return year_words(n) if not 2000 <= n < 2010 else f"twenty oh {DIGITS[n - 2000]}"
        return " ".join(DIGITS[int(d)] for d in str(n))

    def street(self) -> str:
        return f"{self.pick(STREET_NAMES)} {self.pick(STREET_KINDS)}"

    def address(self) -> str:
        r = self.r
        out = f"{self.house_number()} {self.street()}"
        if r.random() < 0.25:
            unit = number_words(r.randint(1, 40)) if r.random() < 0.6 else f"{self.pick(DIGITS[1:])} {self.pick(list('abcd'))}"
            out += f" {self.pick(['apartment', 'apartment', 'unit', 'number'])} {unit}"
        if r.random() < 0.3:
            out += f" in {self.pick(CITIES)}"
        return out

    def zip_code(self) -> str:
        return " ".join(self.pick(DIGITS) for _ in range(5))

    def email(self) -> str:
        first, last = self.pick(FIRST), self.pick(LAST)
        r = self.r
        user = self.pick([f"{first} {last}", f"{first} dot {last}", f"{first[0]} {last}", f"{first} {last} {number_words(r.randint(1, 99))}",
                          f"{first} {year_words(r.randint(1950, 2005))}"])
        return f"{user} at {self.pick(EMAIL_DOMAINS)}"

    def status(self, been: bool = False) -> str:
        thing, plural, participles = self.pick(STATUSES)
        verb = ("have been" if plural else "has been") if been else ("were" if plural else "was")
        return f"{thing} {verb} {self.pick(participles)}"

    def status_question(self) -> str:
        thing, plural, participles = self.pick(STATUSES)
        return f"{'have' if plural else 'has'} my {thing} been {self.pick(participles)}"

    def dose(self) -> str:
        n = self.pick(DOSE_NUMBERS)
        unit = self.pick(["milligrams"] * 6 + ["micrograms"])
        return f"{number_words(n)} {unit[:-1] if n == 1 else unit}"


GREETINGS = ["hi", "hello", "hey", "good morning", "good afternoon", "good evening", "yes hi", "hi there", "um hi", "hello there", "hi good morning"]
GREETINGS += ["hi good afternoon", "hey there", "hi yes", "oh hi", "hi how are you", "yeah hi", "hello good morning",
              "hello hi", "hi um", "good morning this is a message for the doctor", "hi this is a message for the nurse"]
INTROS = ["this is {name}", "my name is {name}", "it's {name}", "this is {name} calling", "{name} here", "i'm calling for {name}",
          "this is {name} calling for my {rel}", "this message is for {staff} this is {name}", "hi this is {name} again"]
INTROS += ["this is {name} i'm a patient of doctor {doc}", "my name is {name} and i'm a patient of doctor {doc}",
           "this is {name} calling about my {rel}", "my name is {name} i'm calling for my {rel}", "yes this is {name}",
           "this is {name} i'm a new patient", "this is {name} calling from {pharmacy}", "this is {name} from {role}",
           "my name is {name} i'm calling on behalf of my {rel}", "hi my name is {name}", "this is {name} i called earlier",
           "this is {name} i was in {past}", "it's {name} again"]
IDS = ["my date of birth is {dob}", "date of birth {dob}", "my birthday is {dob}", "i was born {dob}", "born on {dob}",
       "her date of birth is {dob}", "his date of birth is {dob}", "d o b {dob}", "the date of birth is {dob}"]
CALLBACKS = ["please call me back at {phone}", "you can reach me at {phone}", "my number is {phone}", "call me at {phone}",
             "my phone number is {phone}", "the best number to reach me is {phone}", "my cell is {phone}", "call me back please",
             "please give me a call back", "please call me back when you get a chance", "you can call me back at this number",
             "my number again is {phone}", "please return my call", "i'll be home all day", "leave a message if i don't answer"]
CALLBACKS += ["you can call me back at {phone} anytime", "if you could call me back at {phone}", "my cell phone number is {phone}",
              "or you can try my work number {phone}", "you can leave a message on my voicemail", "if i don't pick up please leave a voicemail",
              "i'm available after {clock}", "the best time to reach me is in the {part}", "please call me back {future}",
              "you can text me at this number", "my home number is {phone}", "i'll be by the phone all afternoon",
              "you can also reach my {rel} at {phone}", "it's okay to leave a detailed message", "please call before {clock}",
              "i'm at work until {clock} so please call after that", "you can send me a message in the portal"]
CLOSINGS = ["thank you", "thanks", "thank you so much", "thanks bye", "bye", "have a good day", "thank you goodbye", "i appreciate it", "thanks a lot"]
CLOSINGS += ["okay thank you", "all right thank you bye", "thank you have a nice day", "thanks so much bye bye", "talk to you soon",
             "okay bye", "thank you very much", "have a great day", "thanks have a good one", "bye bye", "thank you for your help",
             "i really appreciate it thank you", "okay thanks bye", "have a blessed day"]

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
    "i want to confirm my appointment {when}", "i need a follow up appointment after my {visit_bare}", "can i get in {when} {tod}",
    "is the office open {when}", "i'm available any day {tod}", "i can only come in {tod}", "i need an appointment for my {body}",
    "i need to see someone about my {body}", "my {body} has been hurting for {since}", "i need a same day appointment",
    "please put me on the wait list", "i need to change the time of my appointment", "i'm calling to schedule my {rel}'s {visit_bare}",
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
    # how callers feel
    "i've been feeling {feel} for {duration}", "i've been feeling {feel} since {since_point}", "i feel {feel} and {feel2}",
    "i get {feel} when i stand up", "i've been really {feel} lately", "the {drug} makes me {feel}",
    "i've been {feel} ever since i started the {drug}", "my {rel} is {feel} and has {symptom}", "i woke up {feel} this morning",
    "i'm {feel} all the time", "i feel kind of {feel}", "i'm still {feel} after {duration}", "is it normal to feel {feel} after {test}",
    "my {rel} has been {feel} and isn't eating", "i've been feeling {feel} and i'm not sure why", "i feel {feel} when i take the {drug}",
    "i've been {feel} and {feel2} since {since_point}", "every time i eat i feel {feel}", "i'm feeling a little {feel} today",
    "it's been {duration} and i still feel {feel}", "i felt {feel} at work and had to leave early", "i get {feel} in the {part}",
    "my {rel} says she feels {feel}", "my {rel} says he feels {feel}", "i'm feeling {feel} and i have {symptom}",
    # conditions and diagnoses
    "i was diagnosed with {condition} {past}", "i think i might have {condition}", "my {rel} was diagnosed with {condition}",
    "i went to urgent care {past} and they said it's {condition}", "i have a history of {condition}",
    "i've had {condition} before and this feels the same", "they told me at the hospital that i had {condition}",
    "i need a follow up appointment for {condition}", "my {rel} has {condition} and needs to be seen",
    "can the doctor call in something for {condition}", "is {condition} contagious", "i think my {rel} has {condition}",
    "i was treated for {condition} {past} and it's not getting better", "i've had {condition} for about {duration}",
    "the doctor said i have {condition}", "i think i have {condition} again", "i've been dealing with {condition} for {duration}",
    "i need something for my {condition_bare}", "my {condition_bare} is flaring up again", "i was tested for {condition} {past}",
    # tests and procedures
    "i need to schedule {test}", "i'm calling to schedule my {test_bare}", "i had {test} {past} and i haven't heard anything",
    "i'm calling about the results of my {test_bare}", "the doctor ordered {test} and i don't know where to go",
    "do i need to fast before my {test_bare}", "i need the instructions for my {test_bare}", "my {test_bare} is scheduled {future}",
    "my insurance needs a prior authorization for the {test_bare}", "can i get my {test_bare} results over the phone",
    "i need to cancel my {test_bare}", "is {test} covered by my insurance", "how long does it take to get the {test_bare} results back",
    "the hospital called me to set up {test}", "i'm supposed to have {test} before my surgery", "i got a bill for my {test_bare}",
    "i got a letter saying my {test_bare} came back normal", "i got a letter saying my {test_bare} was abnormal",
    "i was told i need {test}", "where do i go for my {test_bare}", "do i need an order for {test}", "i missed my {test_bare} {past}",
    "i'd like to know what my {test_bare} showed", "the imaging place said they never got the order for my {test_bare}",
    "i was supposed to have {test} {past} but it got cancelled", "where do i drop off my stool sample",
    "can i drop off a urine sample {future}", "i'm nervous about my {test_bare}", "can i eat before my {test_bare}",
    "i need a ride home after my {test_bare}", "my {rel} needs {test}",
    # skin and injuries
    "i have {skin} on my {body} that i'd like the doctor to look at", "i noticed {skin} on my {body}",
    "the {skin_bare} on my {body} is getting bigger", "there's {skin} on my {body} that changed color",
    "i have {skin} on my {body} and it's bleeding", "my {rel} has {skin} on the {body}", "my {rel} got {injury} {past}",
    "i got {injury} on my {body}", "i have {injury} and it looks infected", "i think i need stitches",
    "i cut my {body} and it won't stop bleeding", "i think i sprained my {body}", "i think i broke my {body}",
    "my {rel} got {injury} and it's red and swollen", "i had {injury} {past} and it's still swollen", "i got {injury} at work {past}",
    "i'm allergic to bees and i got stung", "i'd like to have a mole removed", "i'd like to have a skin tag removed",
    "i want to get a wart frozen off", "i have a lump in my breast", "i found a lump on my {body}", "i fell {past} and hit my head",
    "my {rel} fell off the bed", "i slipped on the ice and hurt my {body}", "i can't put any weight on my {body}",
    # medicine forms and doses
    "i take {dose} of {drug} {freq}", "i'm on {dose} of {drug}", "the doctor changed my {drug} to {dose} {freq}",
    "the pharmacy gave me the {mg} milligram {pill_forms} instead of the {mg2} milligram", "i'm supposed to take {small} {pill_forms} {freq}",
    "the {pill_forms} look different than usual", "my {drug} {pill_forms} look different this time", "i need more {supplies}",
    "i need a new prescription for {supplies}", "the pharmacy is out of the {drug}", "my {drug} is on back order",
    "can i get the {drug} as a liquid instead of {pill_forms}", "my {rel} can't swallow {pill_forms}",
    "i accidentally took two doses of my {drug}", "i take {number} units of insulin at night", "i've been using my inhaler {freq}",
    "the eye drops are making my eyes burn", "the patches keep falling off", "do i need to keep the pens in the fridge",
    "how much {drug} should i give my {rel}", "i take {mcg} micrograms of levothyroxine", "can i split the {pill_forms} in half",
    "is it okay to take the {drug} {freq}", "should i take the {drug} with food", "the {drug} comes in {mg} milligram {pill_forms}",
    "my insurance only covers {number} {med_forms} a month", "the pharmacy only gave me {number} {pill_forms}",
    "i'm supposed to take the {drug} {freq} but i keep forgetting", "i have {small} refills left on my {drug}",
    "i lost my bottle of {drug}", "the {med_forms} they sent me are the wrong kind", "i need {supplies} for my {rel}",
    "the pharmacy said i need a new prescription for the {med_forms}", "my {drug} was changed from tablets to capsules",
    "i was taking {dose} but the doctor said to cut it in half", "i'm almost out of my {med_forms}",
    # plural time words and availability
    "{part} are better for me", "{part} work best for me", "i work {ptime} so i can only come in on {pday}",
    "i'm off on {pdays}", "i can't come in on {pday}", "do you have any appointments on {pday}", "are you open on {pday}",
    "i usually work {ptime}", "i can only do {ptime}", "i'm free most {ptime} after {clock}", "the best time to call me is in the {part}",
    "do you have any evening or weekend hours", "i work nights so please call after {clock}", "i work weekends so a weekday would be better",
    "i'm available {pdays} in the {part}", "i have dialysis on {pdays}", "i can come in any {day} {tod}",
    "i pick up my kids at {clock} on weekdays", "after school works better for my {rel}", "{pday} are hard for me because of work",
    "i'm only available {ptime}", "i'd prefer {part} if possible", "is there anything open on {pday} in the {part}",
    "{pdays} are my days off", "what time do you close on {pday}", "i'm usually home in the {part}",
    # what happened to prescriptions, bills, forms and results
    "i was told my {was_status}", "i think my {was_status} {past}", "i got a letter saying my {was_status}",
    "can you check if my {was_status}", "i was wondering if my {was_status}", "{status_q} yet", "i want to know if my {been_status}",
    "my {expirable} expired", "my {expirable} expired {past}", "my {expirable} expires {future}", "my {expirable} is about to expire",
    "my {pending} is still pending", "my {pending} has been pending for {duration}", "the portal says my {pending} is pending",
    "my prescription was supposed to be mailed {past} but i never got it", "the pharmacy says the refill is pending the doctor's approval",
    "my claim was denied and i don't know why", "the form was faxed {past} can you check if you got it", "i emailed the form {past}",
    "i mailed the payment {past}", "i faxed over my paperwork {past}", "i already faxed the form twice",
    "my referral got denied by my insurance", "my prior authorization was approved", "the specialist's office says they never got the referral",
    "the mail order pharmacy hasn't sent my {drug}", "the bill was sent to the wrong address", "my prescription was sent to the wrong pharmacy",
    "i got a letter that my insurance was cancelled", "my refill was approved but the pharmacy doesn't have it",
    "the refill request was denied and i don't know why", "the doctor renewed my prescription but the pharmacy didn't get it",
    "my prescription expired and i need a new one", "it was mailed {past} but i never got it", "it says it was faxed but they don't have it",
    "the check was mailed {past}", "my application is still pending", "my results were emailed to me but i can't open them",
    # other people the caller deals with
    "{role} told me to call", "i spoke with {role} {past}", "{role} said i need {visit}", "i was told by {role} that i need {test}",
    "can i speak to {role}", "i'm trying to reach {role}", "{role} asked me to call back", "i left a message for {role} {past}",
    "{role} said they would call me back but nobody did", "i'm calling back for {role}", "{role} said my {was_status}",
    "{role} told me to call the office about my {drug}", "i was transferred to {role} and got disconnected",
    "i'd like to leave a message for {role}", "{role} needs a call back from the doctor", "{role} said to call you about my {test_bare}",
    # addresses and contact details
    "my new address is {address}", "i moved to {address}", "please update my address to {address}", "i live at {address}",
    "can you mail it to {address}", "the bill went to my old address on {street}", "my address is {address}", "the zip code is {zip}",
    "my mailing address is p o box {digits}", "my email is {email}", "can you email it to me at {email}",
    "my email address changed it's {email}", "i'm at {address} if you need to send anything", "i'm staying with my {rel} at {address} for now",
    "the home health nurse can come to {address}", "i'm on {street} near the {landmark}", "my old address was {address}",
    # everyday requests and updates
    "{ask} {request}", "{ask} {request}", "{ask} {request}", "{ask} {request}", "{news_lead} {news}", "{news_lead} {news}",
    "{news_lead} {news}", "i was wondering if i could {self_request}", "i was wondering if i could {self_request} {future}",
    "is it possible to {self_request}", "would it be okay to {self_request}", "i'd like to {self_request}",
    "i was wondering if you have any openings {future}", "i was wondering if the doctor could see me {future}",
    "i was wondering if my results came back", "i was wondering if i need to fast for my blood work",
    "could you tell me what time my appointment is {future}", "could you tell me if my {was_status}",
    "i just wanted to let you know i'll be a few minutes late", "i just wanted to confirm my appointment {future}",
    "it's been {duration} since i called and i haven't heard back", "it's been {duration} since my {test_bare} and nobody called me",
    "it's been hurting for {duration}", "it's been getting better but it's still there", "it's been a while since my last physical",
    "it's been {duration} and the rash is still there", "it's been about {duration} since i ran out",
    "ever since i started the {drug} i've had {symptom}", "since {since_point} i've had {symptom}",
    "i've been having {symptom} since {since_point}", "i've had {symptom} for about {duration}", "i've been taking {drug} for about {duration}",
    "i've been on {drug} for about {duration} now", "for about {duration} now i've had {symptom}",
    "i have a couple of questions about my {drug}", "i have a couple of questions about my bill", "i called a couple of times {past}",
    "i've called a couple of times and nobody called me back", "i need a couple of refills", "i've fallen a couple of times this month",
    "i tried a couple of different medicines but nothing helps", "my {rel} has been sick for a couple of days",
    "i'm not sure if i should come in or just wait", "i don't know if this is normal", "i wanted to ask if i should keep taking the {drug}",
    "i forgot to ask the doctor about my {drug} at my appointment", "i forgot to mention at my visit that i have {symptom}",
    "i was there {past} and forgot to ask about my {test_bare}", "do i need to see the doctor before you can refill my {drug}",
    "do i need an appointment or can the doctor just call it in", "i'm going on vacation {future} and need my {drug} early",
    "i'm leaving the country {future} and need my vaccines", "i need to get my {rel} in for {visit}",
    "my {rel} is {small} months old and has {symptom}", "i'm {age} years old and i've never had {test}", "i'm on medicare and i need {visit}",
    "my {rel} lives with me and i help with the medications", "i'm calling for my {rel} who doesn't speak english",
    "my {rel} is in the nursing home and needs {form}", "i'm my {rel}'s caregiver", "i'm the power of attorney for my {rel}",
    "i'm a new patient and i'd like to set up {visit}", "i'm trying to find a new primary care doctor", "are you accepting new patients",
    "do you take {insurer}", "is doctor {doc} accepting new patients", "i'd like to switch to doctor {doc}", "i saw doctor {doc} {past}",
    "doctor {doc} wanted to see me back in {small} weeks", "doctor {doc} told me to call if it got worse", "i'm calling because it got worse",
    "what time do you open {future}", "do you do walk ins", "can i just walk in {future}", "how much is a visit without insurance",
    "i don't have insurance right now", "i lost my insurance and need to know my options", "i'd like to pay {money} toward my balance",
    "i paid {money} {past} and it's not showing", "i got a call from a collection agency about a bill from your office",
    "my card was declined when i tried to pay online", "can i pay with a credit card over the phone", "i'd like to update my card on file",
    "my insurance says the office billed the wrong code", "i'm calling to ask about the bill for {money}",
]
SPECIALISTS = ["cardiologist", "dermatologist", "orthopedic doctor", "neurologist", "physical therapist", "gastroenterologist",
               "psychiatrist", "therapist", "eye doctor", "allergist", "endocrinologist", "urologist", "podiatrist", "surgeon"]
EXTRAS = ["it's been getting worse", "i'm not sure what to do", "it's really painful", "i'm a little worried", "it's not an emergency",
          "i've tried over the counter medicine", "i'd appreciate a call back today", "i don't have a car", "i work until five",
          "i'm going out of town {when}", "the pharmacy is waiting on you", "please let me know", "it's kind of urgent",
          "i called {when} but nobody called me back", "i'm sorry for the long message", "i can also come in {when}",
          "my {rel} can drive me", "i'm leaving a message because nobody answered", "again my name is {name}"]
EXTRAS += ["it's been like this for {duration}", "i'm not sure if this is something to worry about", "i just want to make sure it's nothing serious",
           "i don't want to go to the emergency room if i don't have to", "i tried calling earlier but the line was busy",
           "i was on hold for a long time", "i'll try calling again later", "sorry to bother you", "i know you're busy",
           "let me know if you need anything else from me", "i'm at work so i may not pick up", "i'm hard of hearing so please speak up",
           "my english is not very good", "it's not getting any better", "it comes and goes", "it's worse at night", "it's worse in the {part}",
           "i haven't been able to sleep", "i've been taking tylenol but it's not helping", "i don't have a fever", "i'm feeling a bit {feel}",
           "i'll be at {address}", "my {rel} is with me", "i'm using my {rel}'s phone", "i'm out of town until next {day}",
           "i've been waiting {duration}", "it happened {past}", "i don't drive anymore", "i can take the bus", "i'm kind of in a hurry",
           "i'm on my lunch break", "i just need a quick answer", "thank you for getting back to me", "it's about the same as before",
           "i'll keep an eye on it", "i hope that's okay", "whatever works for the doctor", "i can send a picture through the portal"]


def _fill(template: str, f: Filler) -> str:
    values = {
        "name": f.name, "dob": f.dob, "phone": f.phone, "drug": lambda: f.pick(DRUGS), "drug2": lambda: f.pick(DRUGS),
        "kind": lambda: f.pick(DRUG_KINDS), "pharmacy": lambda: f.pick(PHARMACIES), "since": f.since, "when": f.when,
        "visit": lambda: f.pick(VISITS), "visit_bare": lambda: article_free(f.pick(VISITS)), "staff": f.staff, "rel": lambda: f.pick(RELATIVES), "tod": lambda: f.pick(TIMES_OF_DAY),
        "body": lambda: f.pick(BODY), "money": f.money, "insurer": lambda: f.pick(INSURERS), "symptom": lambda: f.pick(SYMPTOMS),
        "symptom2": lambda: f.pick(SYMPTOMS), "number": lambda: number_words(f.r.randint(2, 120)),
        "number2": lambda: number_words(f.r.randint(50, 110)), "digit": lambda: f.pick(DIGITS),
        "digits": lambda: " ".join(f.pick(DIGITS) for _ in range(f.r.randint(4, 8))), "form": lambda: f.pick(FORMS),
        "specialist": lambda: f.pick(SPECIALISTS),
        # the broader vocabulary
        "doc": lambda: f.pick(DOCTORS), "feel": lambda: f.pick(FEELINGS), "feel2": lambda: f.pick(FEELINGS),
        "condition": lambda: f.pick(CONDITIONS), "condition_bare": lambda: article_free(f.pick(CONDITIONS)),
        "test": lambda: f.pick(TESTS), "test_bare": lambda: article_free(f.pick(TESTS)), "skin": lambda: f.pick(SKIN),
        "skin_bare": lambda: article_free(f.pick(SKIN)), "injury": lambda: f.pick(INJURIES), "med_forms": lambda: f.pick(MED_FORMS),
        "pill_forms": lambda: f.pick(PILL_FORMS), "supplies": lambda: f.pick(SUPPLIES), "dose": f.dose,
        "mg": lambda: number_words(f.pick(DOSE_NUMBERS)), "mg2": lambda: number_words(f.pick(DOSE_NUMBERS)),
        "mcg": lambda: number_words(f.pick([25, 50, 75, 88, 100, 112, 125, 137, 150, 175, 200])),
        "small": lambda: number_words(f.r.randint(2, 6)), "age": lambda: number_words(f.r.randint(18, 98)),
        "freq": lambda: f.pick(FREQUENCIES), "part": lambda: f.pick(PARTS_OF_DAY), "ptime": lambda: f.pick(PLURAL_TIMES),
        "pday": lambda: f.pick(PLURAL_DAYS), "pdays": lambda: " and ".join(f.r.sample(PLURAL_DAYS, 2)), "day": lambda: f.pick(DAYS),
        "month": lambda: f.pick(MONTHS), "clock": f.clock, "was_status": f.status, "been_status": lambda: f.status(been=True),
        "status_q": f.status_question, "expirable": lambda: f.pick(EXPIRABLE), "pending": lambda: f.pick(PENDING),
        "role": f.role, "fax": lambda: f.pick(FAX_TARGETS + ["this number {phone}"]), "address": f.address, "street": f.street,
        "city": lambda: f.pick(CITIES), "zip": f.zip_code, "email": f.email, "past": f.past, "future": f.future,
        "duration": f.duration, "since_point": lambda: f.pick(SINCE_POINTS), "minutes": lambda: f.pick(["five", "ten", "fifteen", "twenty"]),
        "ask": lambda: f.pick(ASKS), "request": lambda: f.pick(REQUESTS), "news_lead": lambda: f.pick(NEWS_LEADS),
        "news": lambda: f.pick(NEWS), "self_request": lambda: f.pick(SELF_REQUESTS), "landmark": lambda: f.pick(LANDMARKS),
    }
    # slot values may hold slots themselves ("{ask} {request}", "doctor {doc}'s nurse"): fill until none are left
    for _ in range(4):
        if "{" not in template:
            break
        template = re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)](), template)
    return template


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

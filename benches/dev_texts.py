"""Development voicemails: hand-written like the reference set, but never scored as it is.

Decoder and front-end settings (ivr/speech/sphinx.py, ivr/speech/audio.py) are chosen on these,
spoken the same way (`python -m benches.make_reference_set --dev DIR`), so that the reference set
in tests/data/voicemails/ measures settings it had no part in choosing. Other callers, other
sentences: none of these occurs in the reference texts (benches/reference_texts.py) or in the
clinic corpus (ivr/speech/corpus.py); the benchmark checks the corpus.
"""

from __future__ import annotations

DEV_VOICEMAILS: list[tuple[str, str]] = [
    ("dev-01", "Hi, this is Carol Hughes. I need a refill on my levothyroxine. I have about four pills left. My date of birth is April tenth, nineteen fifty nine."),
    ("dev-02", "Hello, it's Walter Price. The pharmacy told me my omeprazole needs a new prescription. Could the doctor send it over to Walgreens? My number is five five five, six two one, three four zero eight."),
    ("dev-03", "Good morning, my name is Diane Foster. I'm calling to refill my gabapentin. I take it three times a day and I'm almost out."),
    ("dev-04", "Hi, this is Henry Coleman. I'd like to book a checkup for next month. Mornings are better for me. Please call me back at five five five, two two seven, eight one nine one."),
    ("dev-05", "Hello, this is Joyce Butler. I need to cancel my appointment on Tuesday afternoon. Something came up at work. I'll call again to set up a new time."),
    ("dev-06", "Hi, my name is Roger Jenkins, date of birth September fourth, nineteen forty nine. I need a follow up with Doctor Kim about my shoulder."),
    ("dev-07", "Hi, it's Kathleen Perry. My daughter needs a sports physical before the season starts. Do you have anything this Saturday?"),
    ("dev-08", "Good afternoon, this is Arthur Long. I'm calling about the results of my blood test from last Friday. The portal still says pending."),
    ("dev-09", "Hello, this is Martha Bell. The nurse called me about my thyroid results and I missed her call. Please try me again at five five five, nine four one, two zero seven seven."),
    ("dev-10", "Hi, this is Douglas Reed. I got a bill for one hundred and twenty dollars for a visit my insurance already paid. Can someone look into it?"),
    ("dev-11", "Hello, my name is Teresa Gray. I changed jobs and I have new insurance with Aetna. I'd like to give you the new member number."),
    ("dev-12", "Hi, it's Keith Sanders. I'd like to pay my balance with a card. My account number is six one three eight. Thanks."),
    ("dev-13", "Hello, this is Gloria Ross. My husband has had a fever and a bad headache since Sunday. Should he come in or go to urgent care?"),
    ("dev-14", "Hi, this is Eugene Powell. I've been getting dizzy when I stand up since the doctor raised my blood pressure medicine. Please have a nurse call me."),
    ("dev-15", "Hi, my name is Frances Long. My granddaughter is two years old and she has a rash all over her back. She doesn't have a fever."),
    ("dev-16", "Hello, it's Bruce Henderson. My blood sugar was three hundred and ten this morning and I feel very thirsty. What should I do?"),
    ("dev-17", "This is Alice Barnes. I have a sore throat and my ears hurt. It's been about five days. I'd like to talk to the nurse."),
    ("dev-18", "Hi, this is Ralph Fisher. My chest feels tight and I'm having trouble breathing when I climb the stairs. Please call me right away."),
    ("dev-19", "Hello, this is Marilyn Ford. My father fell this morning and his head is bleeding. He seems confused. Should we go to the emergency room?"),
    ("dev-20", "Hi, it's Wayne Murray. I feel like I can't go on anymore and I've been thinking about ending my life. I need to talk to somebody."),
    ("dev-21", "This is Beverly Wells. I'm twenty weeks pregnant and I've had bad cramps and some bleeding since last night."),
    ("dev-22", "Hello, this is Randy Stone. My wife has chest pain and her left arm is numb. We are on our way to the hospital. Please let the doctor know."),
    ("dev-23", "Hi, this is Janet Cole. I need my immunization records for my new job. Can you email them or should I pick them up?"),
    ("dev-24", "Hello, my name is Philip Hunt. I need a referral to a dermatologist for a mole on my arm. My insurance requires one."),
    ("dev-25", "Hi, it's Denise Warren. I moved last month. My new address is twelve Oak Street and my new number is five five five, three one four, six six two zero."),
    ("dev-26", "Hi, this is Russell Graham. I'm returning a call from the front desk. I think it was about my appointment on Thursday."),
    ("dev-27", "Hello, this is Cheryl Dunn calling for my son, Tyler Dunn. He needs a note for school saying he was sick on Monday and Tuesday."),
    ("dev-28", "Hi, this is Lawrence Hayes, date of birth January twenty third, nineteen sixty one. I have a question about taking my warfarin with an antibiotic."),
    ("dev-29", "Hello, it's Joan Porter. I'd like to know if you have any openings today. My back has been hurting since I lifted a heavy box."),
    ("dev-30", "Hi, this is Albert Mason. I was in the hospital last week with pneumonia and they told me to see my doctor within seven days. Please call me at five five five, eight zero two, four four one three."),
]

"""Blind voicemails: a third held-out set, written without sight of the corpus or the other texts.

Written by a separate session that was shown only three example voicemails and the rules (numbers
spelled out, 15-45 words, varied callers and reasons, about 8 urgent), and was not allowed to read
the corpus (ivr/speech/corpus.py) or the reference and development texts. It was written before the
clinic corpus was broadened (by yet another session that could not read it), so that the broadening
could be measured on text neither had seen: `python -m benches.make_reference_set --blind DIR`
speaks it like the reference set. Like the others, its sentences are kept out of the corpus the
clinic language model is trained on (ivr/speech/lm.py); the phone adaptation's texts
(ivr/speech/adapt.py) leave out only the reference and development sentences, as when its
transform was estimated (it learns the line and other voices, not words).
"""

from __future__ import annotations

BLIND_VOICEMAILS: list[tuple[str, str]] = [
    ("blind-01", "Hi, this is Linda Alvarez. I need a refill on my metformin, the five hundred milligram. I have maybe three days left. My date of birth is March second, nineteen sixty eight."),
    ("blind-02", "Hello, this is Priya Patel. I have to cancel my appointment this Thursday at ten thirty. My car broke down and I can't get a ride. I'll call back next week to set up a new time."),
    ("blind-03", "This is Walter Kim. I've had chest pain for about an hour and it's going into my left arm. I'm sweating and I feel sick. Please call me back right away at five five five, three four one, two two nine zero."),
    ("blind-04", "Hi, my name is Derek Johnson. I'd like to book my yearly physical sometime in the next month. Mornings are best for me. You can reach me at five five five, eight one two, four four seven six."),
    ("blind-05", "Hi, this is Angela Rossi. I had blood work done last Monday and I haven't heard anything back yet. Could someone call me with the results? Thank you."),
    ("blind-06", "Hello, this is Thomas O'Brien. I got a bill for one hundred forty dollars for my visit in January, but I thought my insurance covered that. Can someone from billing call me back and explain it?"),
    ("blind-07", "Hi, this is Mei Chen. I switched jobs and I have new insurance starting the first of the month. I want to update it before my next appointment. Please give me a call."),
    ("blind-08", "Hi, this is Keisha Robinson. My daughter needs a sports physical form filled out for school. She was seen last month. Can the doctor sign it so I can pick it up Friday?"),
    ("blind-09", "This is Brian Novak. Doctor Harris said she'd send a referral to a skin doctor for the spot on my back. The dermatology office says they never got it. Can you check on that?"),
    ("blind-10", "Hi, this is Fatima Hassan. I've had a sore throat and a fever for three days now, and it hurts to swallow. I was wondering if I should come in or if the nurse could call me."),
    ("blind-11", "Hello, this is Jessica Moreno. My son is four and he's had a fever of a hundred and two since last night. He's still drinking but he's really tired, so can a nurse call me back?"),
    ("blind-12", "Hi, this is Robert Nguyen, calling about my mother, Lan Nguyen. She's been more confused than usual the last two days and she's going to the bathroom a lot. I'm wondering if she has another bladder infection."),
    ("blind-13", "This is Dolores Grant. I can't catch my breath, even sitting down. My inhaler isn't helping at all. Please call me back as soon as you can."),
    ("blind-14", "Hi, Kevin Walsh here. I need to move my appointment from next Tuesday to later in the week if possible, any afternoon works. My number is five five five, six oh three, one nine eight two."),
    ("blind-15", "Hello, this is Samantha Reyes. I'm a new patient and I need my records sent over from my old doctor in Ohio. Do you have a form I need to sign for that?"),
    ("blind-16", "Tyrone Washington. Need a refill on my albuterol inhaler, same pharmacy as before. Call me if there's a problem. Thanks."),
    ("blind-17", "Hi, this is Rachel Goldberg. I'm about eight weeks pregnant and I've started bleeding really heavily, more than a period. I'm soaking through a pad every hour. Please call me back right away."),
    ("blind-18", "Hi, this is Gary Lindqvist. I had an x-ray of my knee on Wednesday. I'm just checking to see if the doctor has looked at it yet. Call me back when you get a chance."),
    ("blind-19", "Hello, this is Helen Park. I was charged twice on my credit card for the same visit, thirty five dollars each time. I'd like a refund for the extra charge, please."),
    ("blind-20", "Hi, this is Jordan Ellis. I've been feeling really low for a while, and lately I've been having thoughts about ending my life. I don't really know who else to call. Please call me back today."),
    ("blind-21", "Hi, this is Ahmed Karimi. I've had a bad cough for about a week and it's getting worse. Do you have anything open today or tomorrow? I can come in any time."),
    ("blind-22", "Hello, this is Barbara Schultz. I called in a refill for my blood pressure pill on Monday, and the pharmacy says they still haven't gotten anything from you. I'm out as of today."),
    ("blind-23", "Hi, this is Luis Ortega. My job needs the doctor to fill out family leave paperwork for my back surgery. I can fax it over or drop it off, just let me know which is better."),
    ("blind-24", "This is Nancy Fitzgerald. My father's face is drooping on one side and his words are coming out slurred. It started about twenty minutes ago. Please call me right now."),
    ("blind-25", "Hi, this is Vincent DeLuca. I'm checking on the referral for physical therapy for my shoulder. It's been two weeks and nobody has called me to set it up."),
    ("blind-26", "Hi, this is Amber Collins. My daughter woke up with a red bumpy rash on her arms and belly. She doesn't have a fever and she's acting fine. Should I bring her in?"),
    ("blind-27", "This is Daniel Okafor. I took the new antibiotic about half an hour ago and now my lips are swelling and my throat feels tight. I'm getting hives all over. Please call me back immediately."),
    ("blind-28", "Hi, this is Gloria Ramirez. I've been getting dizzy when I stand up, mostly in the mornings. It started after my water pill was increased. Could the nurse give me a call?"),
    ("blind-29", "Paul Henderson. Need to cancel my appointment tomorrow at two o'clock. I'll call to reschedule later. Thanks."),
    ("blind-30", "Hi, this is Christine Yamamoto. My dad is eighty four and he fell in the kitchen about an hour ago. He hit his head and now he's really sleepy and his hip hurts. Please call me back right away."),
    ("blind-31", "Hello, this is Steven Murphy. My insurance says my new cholesterol medicine needs a prior authorization. Can someone in the office send that in? The pharmacy won't fill it until it's done."),
    ("blind-32", "Hi, this is Margaret Sullivan. I got a message that my cholesterol results were in, and I tried calling back yesterday but I kept getting put on hold, so I'm just leaving a message. I'm home all afternoon."),
    ("blind-33", "Hello, my name is Olivia Brooks. I just moved to the area and I'm looking for a new primary care doctor. Are you taking new patients? My number is five five five, two seven zero, three three one five."),
    ("blind-34", "Hi, this is Heather Lawson, calling for my son Ethan. He needs a refill on his attention medicine. I know it has to be a new prescription every month. He has about five days left."),
    ("blind-35", "Hello, this is Andre Dubois. I need a copy of my vaccine records for a new job, especially the hepatitis B shots. Can you email or mail them to me?"),
    ("blind-36", "Hi, this is Frank Castillo. I started the new blood pressure pill last week and I've had a dry cough ever since. I'm not sure if it's the medicine. Should I keep taking it?"),
    ("blind-37", "Hi, this is Diane Foster. I have my yearly checkup on the fifteenth, but I'll be out of town that week. Can we push it to the end of the month? Thanks so much."),
    ("blind-38", "Hello, this is Jamal Wright. I have a balance of about four hundred dollars and I can't pay it all at once. Do you do payment plans? Please call me back."),
    ("blind-39", "Hi, this is Erin McCarthy. I think I have a bladder infection again. It burns when I go and I feel like I have to go all the time. Can the doctor call something in?"),
    ("blind-40", "Hi, this is Raymond Cho. I take care of my mom and she's on a lot of medicines. She accidentally took her evening pills twice last night. She seems okay, but should I be worried?"),
    ("blind-41", "Hello, this is Tina Morales. I have labs scheduled Friday morning. Do I need to fast before those, and can I still take my thyroid pill? Please call me back."),
    ("blind-42", "Hi, yeah, this is Harold Jensen. I'm calling about my blood pressure pills, the amlodipine. I'm going on a trip to see my grandkids next week, so I need it refilled a little early if that's okay. I'll be gone about three weeks."),
    ("blind-43", "Hi, this is Cynthia Ward. I need the doctor to sign a form for a handicap parking placard. My knee surgery isn't until next month. I can drop the form off tomorrow."),
    ("blind-44", "Hello, this is Omar Siddiqui. I saw the heart doctor last week like you suggested. I wanted to make sure you got their notes and find out if I need a follow up with you."),
    ("blind-45", "This is Yolanda Pierce. My husband is diabetic and his sugar just read forty. He's sweaty and not making sense, and the juice I gave him isn't helping. Please call back right now."),
    ("blind-46", "Hi, Greg Hoffman. Threw my back out lifting a box on Saturday and it's not getting better. Wondering if I can get in this week or if there's something I can take."),
    ("blind-47", "Hello, this is Naomi Levine. I got a new insurance card in the mail with a different member number, same company. I wanted to update my file before my appointment on Tuesday."),
    ("blind-48", "Hi, this is Carlos Mendoza. My daughter was seen on Monday for an ear infection. She's been on the antibiotic for three days and still has a fever. Should we bring her back in?"),
    ("blind-49", "Hello, this is Eleanor Whitfield. I'd like a copy of my medical records from the last two years for my new specialist. Please let me know if there's a fee. My date of birth is June ninth, nineteen forty seven."),
    ("blind-50", "Hi, this is Isaiah Turner. I have a video visit tomorrow at nine fifteen, and I never got the link. Can someone send it to me by text or email? Thanks."),
]


"""The reference voicemails' words: what the synthetic callers say (the benchmark's and tests' truth).

Written by hand, as patients talk on a clinic's voicemail, with numbers in words as they are spoken.
The clinic language model (ivr/speech/data/) is built from a separate corpus (ivr/speech/corpus.py)
that must not contain these sentences; the benchmark checks that.
"""

from __future__ import annotations

VOICEMAILS: list[tuple[str, str]] = [
    ("refill-01", "Hi, this is Maria Lopez. I need a refill on my lisinopril. My date of birth is March third, nineteen fifty two. Please call me back at five five five, two one two, four four eight nine. Thank you."),
    ("refill-02", "Hello, my name is Robert Chen, date of birth July twelfth, nineteen sixty eight. I'm almost out of my metformin and the pharmacy said they need a new prescription from the doctor."),
    ("refill-03", "Good morning, this is Linda Park calling about my blood pressure medicine. The pharmacy on Main Street faxed a refill request last week and I haven't heard anything. Can someone check on it?"),
    ("refill-04", "Yes, hi, it's James Wilson. I need my inhaler refilled, the albuterol one. I only have a couple of puffs left. My number is five five five, eight one seven, two zero three three."),
    ("refill-05", "This is Patricia Brown, birthday October ninth, nineteen forty five. I need a thirty day supply of atorvastatin sent to the pharmacy. I am going out of town on Friday."),
    ("refill-06", "Hi, this message is for Doctor Patel. This is Kevin Murphy. I'd like to renew my prescription for sertraline. I'm doing a lot better and I don't want to run out."),
    ("appt-01", "Hi, this is Susan Miller. I have an appointment tomorrow at ten thirty with Doctor Nguyen and I need to cancel it. My son is sick. Please call me to reschedule."),
    ("appt-02", "Hello, my name is David Garcia. I'd like to make an appointment for a physical. I'm free on Monday or Wednesday afternoons. You can reach me at five five five, three nine one, six six zero two."),
    ("appt-03", "Hi, it's Jennifer Taylor, date of birth May first, nineteen eighty. I need to move my Thursday appointment to next week if possible. Anything in the morning works for me."),
    ("appt-04", "Good afternoon, this is Michael Anderson. I was supposed to come in for my follow up after the surgery but I never got a call to schedule it. Please give me a call back."),
    ("appt-05", "Hi, I'm calling to schedule my daughter's vaccines before school starts. Her name is Emily Thomas and she was born on August twentieth, two thousand sixteen."),
    ("appt-06", "This is Charles Moore. I missed my appointment this morning, I'm sorry, my car broke down. Could I get another appointment this week?"),
    ("appt-07", "Hello, this is Barbara Jackson. I'm a new patient and I would like to schedule my first visit. My insurance is Blue Cross. My phone number is five five five, two seven four, one nine eight eight."),
    ("appt-08", "Hi, this is Thomas White. I need to see the doctor about my knee. It has been swollen for about two weeks and it hurts when I walk up the stairs."),
    ("results-01", "Hi, this is Nancy Harris. I had blood work done on Tuesday and I'm calling to get my results. My date of birth is December fifteenth, nineteen seventy three."),
    ("results-02", "Hello, this is Daniel Martin. I got a message from the nurse about my lab results but I missed the call. Please call me back at five five five, six zero four, three one one seven."),
    ("results-03", "Hi, it's Karen Thompson. I'm waiting on the results of my x ray from last Monday. Could someone let me know if everything looks okay?"),
    ("billing-01", "Hi, this is Paul Robinson. I got a bill for two hundred and fifty dollars and I think my insurance should have covered it. Can someone from billing call me?"),
    ("billing-02", "Hello, my name is Lisa Clark. I would like to set up a payment plan for my last visit. My account number is four four seven two one. Thank you."),
    ("billing-03", "Hi, this is Mark Lewis. I changed my insurance in January and I need to give you the new information. Please call me at five five five, nine two zero, five five four one."),
    ("billing-04", "Good morning, it's Sandra Walker. I was charged twice for the same appointment in September. I'd like a refund for the second charge please."),
    ("billing-05", "Hi, my name is Steven Hall. I'm calling about a statement I received. I don't understand the charges for the lab work. Could somebody explain them to me?"),
    ("nurse-01", "Hi, this is Betty Allen. I've had a fever of one hundred and one since yesterday and a bad cough. I'd like to talk to a nurse about whether I should come in."),
    ("nurse-02", "Hello, this is George Young. My blood sugar has been running high, around two hundred and eighty in the mornings. What should I do about my insulin?"),
    ("nurse-03", "Hi, it's Helen King. I started the new antibiotic two days ago and now I have a rash on my arms. Should I keep taking it?"),
    ("nurse-04", "This is Edward Wright. I've been dizzy since I started the new blood pressure pills. Please have the nurse call me back at five five five, four eight three, seven seven two six."),
    ("nurse-05", "Hi, my name is Dorothy Scott. My grandson has had diarrhea and vomiting since last night. He is three years old. Is there something we can give him?"),
    ("nurse-06", "Hello, this is Brian Green. I have a question about my medication. The pharmacist said I shouldn't take ibuprofen with my blood thinner. Is that right?"),
    ("urgent-01", "Hi, this is Ronald Adams. I've been having chest pain since this morning and it goes down my left arm. I don't know if I should go to the emergency room."),
    ("urgent-02", "This is Sharon Baker. My husband is having trouble breathing and his lips look blue. Please call us back right away at five five five, seven one six, zero zero four nine."),
    ("urgent-03", "Hello, this is Jason Nelson. I cut my hand in the kitchen and it won't stop bleeding. It has been bleeding for thirty minutes. What should I do?"),
    ("urgent-04", "Hi, it's Michelle Carter. I've been feeling really hopeless lately and I've had thoughts of hurting myself. I don't know who else to call."),
    ("urgent-05", "This is Gary Mitchell. I'm having suicidal thoughts and I need to talk to someone today. Please call me back as soon as you can."),
    ("urgent-06", "Hi, this is Deborah Perez. I'm thirty two weeks pregnant and I'm having bleeding and cramps. Please have the doctor call me right away."),
    ("urgent-07", "Hello, my name is Larry Roberts. I'm having a lot of chest pressure and shortness of breath when I walk. My date of birth is June sixth, nineteen fifty five."),
    ("other-01", "Hi, this is Cynthia Turner. I need a copy of my medical records sent to my new doctor. Could you tell me what form I need to fill out?"),
    ("other-02", "Hello, this is Frank Phillips. I need a letter for my employer saying I was seen on Monday. Please call me when it is ready."),
    ("other-03", "Hi, it's Amy Campbell. I need to fill out a form for my son's school physical. Can I drop it off at the front desk tomorrow?"),
    ("other-04", "Hi, this is Raymond Parker. I'm calling to update my address and phone number. The new number is five five five, three three eight, nine one five zero."),
    ("other-05", "This is Angela Evans calling for my mother, Ruth Evans. She needs a referral to a cardiologist. Her date of birth is February second, nineteen thirty nine."),
]

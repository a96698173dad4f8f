"""The urgent-voicemail DEVELOPMENT set: other messages than benches/urgent_texts.py, for tuning.

benches/urgent_texts.py is held out: its figures are the claim, and nothing (phrases, matching,
decoding settings) is tuned to its misses. Changes are tried on these messages instead
(``python -m benches.urgent_bench --texts dev``, its own folder var/bench/urgent-dev/). Written anew:
other callers, other wording of the same kinds of emergency, and routine messages that share words
with urgent ones (blood, breathing, chest, seizure medicine, fainting spells long past, allergy forms).

Each entry: (id, urgent, text). Lower case, numbers spelled as said.
"""

from __future__ import annotations

DEV_ES: list[tuple[str, bool, str]] = [
    ("dev-es-u01", True, "buenas noches le habla rosa mi marido se queja de un dolor de pecho muy fuerte y tiene el brazo dormido llámenos por favor"),
    ("dev-es-u02", True, "hola soy manuel tengo mucho dolor en el pecho desde hace una hora y me cuesta respirar"),
    ("dev-es-u03", True, "hola mi hija tiene asma y ahorita no puede respirar el inhalador no le sirve por favor llámeme"),
    ("dev-es-u04", True, "buenas tardes mi papá se está ahogando y tiene los labios morados no sé qué hacer"),
    ("dev-es-u05", True, "hola me hice una cortada profunda en el brazo y no para de sangrar ya van dos toallas"),
    ("dev-es-u06", True, "hola habla beatriz mi esposo se cayó de la escalera y tiene mucha sangre en la pierna"),
    ("dev-es-u07", True, "hola llevo varios días pensando en suicidarme y hoy tengo mucho miedo por favor llámeme"),
    ("dev-es-u08", True, "buenas noches mi hijo me dijo que se quiere matar y no sé dónde está"),
    ("dev-es-u09", True, "hola habla andrea ya no quiero vivir estoy muy cansada de todo"),
    ("dev-es-u10", True, "hola mi primo se tomó todas las pastillas de su mamá y está muy dormido creo que es una sobredosis"),
    ("dev-es-u11", True, "buenos días mi abuelo no puede mover el brazo derecho y habla raro creo que es una embolia"),
    ("dev-es-u12", True, "hola mi bebé está convulsionando con mucha fiebre qué hago por favor"),
    ("dev-es-u13", True, "hola mi tía tuvo una convulsión en la calle y ahora está muy confundida"),
    ("dev-es-u14", True, "hola mi esposa se desmayó en el trabajo y todavía está muy pálida llámeme por favor"),
    ("dev-es-u15", True, "buenas tardes mi abuela está inconsciente en la cama y no responde cuando le hablo"),
    ("dev-es-u16", True, "hola mi hijo comió nueces y tiene una reacción alérgica se le está hinchando la lengua"),
    ("dev-es-u17", True, "hola soy felipe tengo una presión en el pecho que no se quita y estoy sudando frío"),
    ("dev-es-u18", True, "hola estoy embarazada y tengo un sangrado muy fuerte desde la mañana"),
    ("dev-es-u19", True, "hola mi hermana dice que se quiere hacer daño y se encerró en el baño"),
    ("dev-es-u20", True, "buenas noches mi mamá perdió el conocimiento en la cocina y se golpeó la cabeza"),
    ("dev-es-r01", False, "hola quería saber si ya llegaron los resultados de mi análisis de sangre del lunes"),
    ("dev-es-r02", False, "buenos días necesito renovar la receta de mi inhalador para el asma por favor"),
    ("dev-es-r03", False, "hola mi hijo necesita más medicina para las convulsiones se le termina el viernes"),
    ("dev-es-r04", False, "hola soy gloria quisiera cambiar mi cita del jueves para la próxima semana"),
    ("dev-es-r05", False, "buenas tardes hace años me desmayaba seguido pero ya estoy bien solo quiero mi chequeo anual"),
    ("dev-es-r06", False, "hola la escuela pide un formulario de alergias para mi hija me lo pueden llenar"),
    ("dev-es-r07", False, "hola quería preguntar cuánto cuesta la consulta sin seguro"),
    ("dev-es-r08", False, "buenos días el doctor me pidió una radiografía del pecho dónde me la hago"),
    ("dev-es-r09", False, "hola ya me siento mejor de la tos y quería cancelar la cita de mañana"),
    ("dev-es-r10", False, "hola necesito una constancia de vacunas para el trabajo de mi esposo"),
    ("dev-es-r11", False, "buenas tardes quiero pedir una cita para revisar mi presión arterial"),
    ("dev-es-r12", False, "hola la farmacia dice que falta la autorización del seguro para mi medicina del corazón"),
    ("dev-es-r13", False, "hola soy ricardo el ejercicio de respiración que me dieron me ayuda mucho gracias"),
    ("dev-es-r14", False, "hola a qué hora abren el sábado quiero llevar a mis hijos a vacunar"),
]

DEV_EN: list[tuple[str, bool, str]] = [
    ("dev-en-u01", True, "hi this is rachel my dad has chest pain and he's sweating a lot can the doctor call right now"),
    ("dev-en-u02", True, "hello my chest hurts really badly and it feels like an elephant is sitting on it"),
    ("dev-en-u03", True, "hi my husband says he can't breathe and his lips are turning blue"),
    ("dev-en-u04", True, "hello this is greg i have been short of breath all day and now i can barely talk"),
    ("dev-en-u05", True, "hi my son cut his hand on a knife and it is bleeding a lot it won't stop"),
    ("dev-en-u06", True, "hello i had surgery last week and now the wound is bleeding through the bandage"),
    ("dev-en-u07", True, "hi my name is kim i have been having suicidal thoughts and i'm scared to be alone tonight"),
    ("dev-en-u08", True, "hello my brother just texted me that he wants to kill himself please call me back"),
    ("dev-en-u09", True, "hi i don't want to live anymore i just need someone to talk to"),
    ("dev-en-u10", True, "my sister took too many pills i think she took an overdose she's very drowsy"),
    ("dev-en-u11", True, "hi my mother can't move her arm and her speech is slurred we think it's a stroke"),
    ("dev-en-u12", True, "hello my daughter had a seizure at school and she's still not acting like herself"),
    ("dev-en-u13", True, "hi my husband is having convulsions on the floor right now"),
    ("dev-en-u14", True, "hello my grandfather fainted in the shower and he is very confused"),
    ("dev-en-u15", True, "hi my friend is unconscious and we can't wake her up"),
    ("dev-en-u16", True, "hello my son ate peanuts and he's having an allergic reaction his lips are swelling"),
    ("dev-en-u17", True, "hi i feel a lot of pressure in my chest and my left arm is numb"),
    ("dev-en-u18", True, "hello i'm thirty weeks pregnant and i'm bleeding and having cramps"),
    ("dev-en-u19", True, "hi this is sam i'm thinking about hurting myself tonight please call"),
    ("dev-en-u20", True, "hello my wife passed out on the stairs and she's barely breathing"),
    ("dev-en-r01", False, "hi this is nina i'm calling to get the results of my blood test from last tuesday"),
    ("dev-en-r02", False, "hello i need a refill on my inhaler for my asthma when you get a chance"),
    ("dev-en-r03", False, "hi my son's seizure medicine is almost gone could you call in a refill"),
    ("dev-en-r04", False, "hello i'd like to move my appointment from wednesday to friday afternoon"),
    ("dev-en-r05", False, "hi i used to have fainting spells years ago but i'm fine now and i need my yearly checkup"),
    ("dev-en-r06", False, "hello the school needs an allergy form for my daughter can the doctor fill it out"),
    ("dev-en-r07", False, "hi how much does a visit cost without insurance"),
    ("dev-en-r08", False, "hello the doctor ordered a chest x-ray for me where should i go for it"),
    ("dev-en-r09", False, "hi my cough is better and i'd like to cancel tomorrow's visit"),
    ("dev-en-r10", False, "hello i need a copy of my vaccination record for my new job"),
    ("dev-en-r11", False, "hi i'd like to make an appointment to check my blood pressure"),
    ("dev-en-r12", False, "hello the pharmacy says my heart medicine needs approval from my insurance"),
    ("dev-en-r13", False, "hi this is mark the breathing exercises you gave me are helping a lot thanks"),
    ("dev-en-r14", False, "hello what time do you open on saturday i want to bring my kids for their shots"),
]

"""The Spanish reference voicemails' words: what the synthetic Spanish-speaking callers say.

The Spanish counterpart of benches/reference_texts.py, for the Spanish benchmark and the
urgent-voicemail tests: written by hand as Latin-American patients talk on a US clinic's voicemail,
in plain lower-case words with numbers spelled out as they are spoken. Eight are urgent and say one
of the clinic's Spanish urgent phrases (config/clinic.yaml ``voicemail.urgent_phrases.es``); the
other sixteen say none of them (not even "sangre", which ``sangr*`` matches), to count false alarms.
Spoken by espeak-ng (benches/make_reference_set.py --spanish) into tests/data/voicemails/es-*.wav.
"""

from __future__ import annotations

VOICEMAILS_ES: list[tuple[str, str]] = [
    ("es-appt-01", "hola buenos días habla maría fernanda lópez tengo una cita mañana a las diez y media con la doctora salazar y necesito cancelarla porque mi hijo está enfermo por favor llámeme para cambiarla"),
    ("es-appt-02", "buenas tardes mi nombre es jorge ramírez quisiera hacer una cita para un examen físico puedo venir los lunes o los miércoles por la tarde mi número es cinco cinco cinco tres nueve uno seis seis cero dos"),
    ("es-appt-03", "hola soy ana lucía torres quiero hacer una cita para las vacunas de mi hija antes de que empiecen las clases se llama sofía torres y nació el veinte de agosto de dos mil dieciséis gracias"),
    ("es-appt-04", "buenos días habla carlos mendoza perdí mi cita de esta mañana porque se me descompuso el carro disculpe la molestia me pueden dar otra cita esta semana cualquier día después de las tres me sirve"),
    ("es-refill-01", "hola habla rosa elena martínez necesito que me renueven la receta de mi losartán mi fecha de nacimiento es el nueve de octubre de mil novecientos cuarenta y cinco por favor llámeme al cinco cinco cinco dos uno dos cuatro cuatro ocho nueve"),
    ("es-refill-02", "buenas tardes soy miguel ángel herrera ya casi no me queda metformina y en la farmacia me dijeron que necesitan una receta nueva del doctor patel mi número es cinco cinco cinco ocho uno siete dos cero tres tres"),
    ("es-refill-03", "hola habla guadalupe sánchez llamo por mi inhalador de albuterol ya solo me quedan unas pocas dosis la farmacia de la calle main les mandó un fax la semana pasada y todavía no me han contestado"),
    ("es-refill-04", "buenos días mi nombre es patricia vargas nací el doce de julio de mil novecientos sesenta y ocho necesito mi receta de atorvastatina para treinta días porque me voy de viaje el viernes muchas gracias"),
    ("es-billing-01", "hola habla luis alberto gómez me llegó una factura de doscientos cincuenta dólares y creo que mi seguro debió cubrirla quisiera que alguien del departamento de cobros me llame por favor"),
    ("es-billing-02", "buenas tardes mi nombre es claudia romero quisiera hacer un plan de pagos para mi última consulta mi número de cuenta es cuatro cuatro siete dos uno gracias y que tenga buen día"),
    ("es-billing-03", "hola soy ricardo flores cambié de seguro médico en enero y necesito darles la información nueva ahora tengo medicaid por favor llámeme al cinco cinco cinco nueve dos cero cinco cinco cuatro uno"),
    ("es-results-01", "hola habla verónica castillo me hicieron unos análisis de laboratorio el martes y quisiera saber los resultados mi fecha de nacimiento es el quince de diciembre de mil novecientos setenta y tres gracias"),
    ("es-results-02", "buenas tardes soy francisco javier morales la enfermera me dejó un mensaje sobre mis resultados pero no alcancé a contestar por favor llámeme al cinco cinco cinco seis cero cuatro tres uno uno siete"),
    ("es-results-03", "hola habla teresa jiménez estoy esperando los resultados de la radiografía de la rodilla que me tomaron el lunes pasado me pueden avisar si todo salió bien por favor"),
    ("es-nurse-01", "hola mi nombre es beatriz navarro tengo fiebre de treinta y ocho y medio desde ayer y una tos muy fuerte quisiera hablar con una enfermera para saber si debo ir a la clínica"),
    ("es-nurse-02", "buenos días habla alejandro ruiz empecé el antibiótico nuevo hace dos días y ahora me salieron ronchas en los brazos no sé si debo seguir tomándolo por favor llámeme"),
    ("es-urgent-01", "hola habla roberto aguilar tengo dolor de pecho desde esta mañana y se me va hacia el brazo izquierdo no sé si debo ir a la sala de emergencias por favor llámeme pronto"),
    ("es-urgent-02", "buenas noches soy marisol ortiz tengo asma y desde hace una hora casi no puedo respirar ya usé el inhalador dos veces y no me ayuda por favor llámeme al cinco cinco cinco siete uno seis cero cero cuatro nueve"),
    ("es-urgent-03", "hola habla daniela reyes tengo treinta y dos semanas de embarazo y desde anoche tengo sangrado y cólicos muy fuertes por favor que la doctora me llame lo antes posible"),
    ("es-urgent-04", "hola llamo por mi mamá carmen delgado de ochenta y un años hace un rato se desmayó en la cocina ya despertó pero está muy confundida qué debemos hacer por favor llámenme"),
    ("es-urgent-05", "hola soy andrés castro me he sentido muy mal últimamente y he tenido pensamientos suicidas no sé a quién más llamar necesito hablar con alguien hoy por favor devuélvame la llamada"),
    ("es-urgent-06", "buenas tardes habla lucía mendoza mi hijo tomás de dos años tuvo una convulsión con la fiebre duró como un minuto ya está dormido pero estoy muy asustada por favor llámeme"),
    ("es-urgent-07", "hola mi nombre es fernando silva creo que mi papá se tomó demasiadas pastillas para el dolor puede ser una sobredosis está muy dormido y no responde bien por favor llámenme ahora"),
    ("es-urgent-08", "buenos días habla gloria ramos mi esposo amaneció con la cara chueca y no puede mover el brazo derecho tengo miedo de que sea un derrame él nació el seis de junio de mil novecientos cincuenta y cinco"),
]
